"""The model every task shares: an encoder with the task's head on top."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nlpkit.cpu import use_fast_paths
from nlpkit.task import ENCODER_INPUTS


class TaskModel(nn.Module):
    """``head(encoder(batch), batch)``: the one forward used for training, evaluation
    and prediction."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        if not getattr(head, "uses_pooler", True) and getattr(encoder, "pooler", None) is not None:
            # An unused pooler would get no gradient, which distributed training rejects.
            encoder.pooler = None
        self.encoder = encoder
        self.head = head
        # Faster CPU attention and dropout masks, the same function (nlpkit/cpu.py); every
        # path (training, evaluation, prediction) builds its model here, so all agree.
        use_fast_paths(self)

    def forward(self, batch: dict[str, torch.Tensor]) -> Any:
        inputs = {k: batch[k] for k in ENCODER_INPUTS if k in batch}
        return self.head(self.encoder(**inputs, return_dict=True), batch)
