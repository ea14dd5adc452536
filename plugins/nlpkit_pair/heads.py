"""BERT's next-sentence-prediction head, loadable from a checkpoint's ``cls.*`` weights."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger("nlpkit")

NSP_PREFIX = "cls.seq_relationship."


class NspHead(nn.Module):
    """``seq_relationship`` (a linear layer: IsNext = 0, NotNext = 1) on the pooled [CLS]
    output, named as in ``BertForPreTraining`` so that its weights load by name."""

    uses_pooler = True

    def __init__(self, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.seq_relationship = nn.Linear(hidden_size, 2)

    def forward(self, encoder_output: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pooled = getattr(encoder_output, "pooler_output", None)
        if pooled is None:
            raise RuntimeError("next-sentence prediction needs the encoder's pooler (a BertModel with its pooling layer)")
        return self.seq_relationship(self.dropout(pooled))

    def loss(self, output: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(output.float(), batch["labels"], ignore_index=-100)


def nsp_state(path: str | Path) -> dict[str, torch.Tensor]:
    """``seq_relationship`` weights of a checkpoint: ``BertForPreTraining`` /
    ``BertForNextSentencePrediction`` weights (``cls.seq_relationship.*``), an nlpkit
    pre-training run's ``model/`` folder, or an nlpkit ``task: nsp`` run's ``model/``
    folder (or the run directory itself). Empty when there is none."""
    from nlpkit.rundir import model_dir
    from nlpkit_pretrain.head import checkpoint_state

    saved = model_dir(path)
    if saved.task_name() == "nsp":
        from safetensors.torch import load_file

        head = load_file(str(saved.head_file))
        return {k[len("seq_relationship.") :]: v for k, v in head.items() if k.startswith("seq_relationship.")}
    state = checkpoint_state(saved.path)  # every cls.* tensor (a pre-training run stores its heads together)
    return {k[len(NSP_PREFIX) :]: v for k, v in state.items() if k.startswith(NSP_PREFIX)}


def load_nsp_weights(head: NspHead, path: str | Path | None) -> bool:
    """Load the checkpoint's NSP weights into ``head``; returns whether there were any."""
    state = nsp_state(path) if path else {}
    if set(state) >= {"weight", "bias"} and state["weight"].shape == head.seq_relationship.weight.shape:
        head.seq_relationship.load_state_dict({"weight": state["weight"], "bias": state["bias"]})
        log.info("NSP head: loaded from %s", path)
        return True
    log.info("NSP head: %s has no NSP weights (cls.seq_relationship); initialised at random", path or "(scratch)")
    return False
