"""The span head: one start and one end logit per token."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nlpkit.errors import NlpkitError


class SpanHead(nn.Module):
    """Dropout and a linear layer to (start, end) logits over every token.

    Padding positions get a very low logit, so the loss's softmax and decoding never
    pick them. Logits are float32 whatever the autocast precision, for a stable loss.
    """

    def __init__(self, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 2)

    def forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        states = encoder_output.last_hidden_state
        logits = self.out(self.dropout(states)).float()
        mask = batch["attention_mask"].bool()
        logits = logits.masked_fill(~mask.unsqueeze(-1), -1e4)
        start, end = logits.unbind(dim=-1)
        return {"start_logits": start, "end_logits": end}

    def loss(self, output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if "start_positions" not in batch:
            raise NlpkitError("task qa: training features carry no answer positions (encode with training=True)")
        return span_loss(output, batch)


def span_loss(output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean of the start and end cross-entropies (the [CLS] index marks no answer)."""
    return (
        F.cross_entropy(output["start_logits"], batch["start_positions"])
        + F.cross_entropy(output["end_logits"], batch["end_positions"])
    ) / 2
