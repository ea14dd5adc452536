"""Sequence-level heads: pool the encoder's states, then a linear layer."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn


def pool(encoder_output: Any, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    """One vector per sequence: the [CLS] state, BERT's pooler (dense + tanh over
    [CLS]), or the mean of the real tokens' states."""
    states = encoder_output.last_hidden_state
    if how == "cls":
        return states[:, 0]
    if how == "pooler":
        pooled = getattr(encoder_output, "pooler_output", None)
        if pooled is None:
            raise ValueError("head.pooling: pooler needs an encoder with a pooling layer")
        return pooled
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(output, targets) -> loss``: a label strategy's loss (cross-entropy, BCE, MSE)."""


class SequenceHead(nn.Module):
    """Dropout and a linear layer on the pooled sequence: class logits (or one value
    per output for regression), trained with ``loss`` against the batch's ``labels``."""

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float, pooling: str, loss: Loss) -> None:
        super().__init__()
        self.target_loss = loss
        self.pooling = pooling
        self.uses_pooler = pooling == "pooler"
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_outputs)

    def forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pooled = pool(encoder_output, batch["attention_mask"], self.pooling)
        return self.out(self.dropout(pooled))

    def loss(self, output: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.target_loss(output, batch["labels"])
