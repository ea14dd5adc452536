"""The model every task shares: an encoder with the task's head on top."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from nlpkit.cpu import use_fast_paths
from nlpkit.errors import RunDirError
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
        return self.head(self.encode(batch), batch)

    def encode(self, batch: dict[str, torch.Tensor], *, hidden_states: bool = False) -> Any:
        """The encoder's output for ``batch``; with ``hidden_states``, also the output of
        the embeddings and of every layer (``.hidden_states``: hidden-state distillation)."""
        inputs = {k: batch[k] for k in ENCODER_INPUTS if k in batch}
        return self.encoder(**inputs, output_hidden_states=hidden_states, return_dict=True)


def load_head(head: Any, path: Path, task_name: str) -> None:
    """Load the head's tensors strictly: every tensor of the head must be in the file and
    nothing else. No shipped head has optional tensors: constant buffers (the CRF's
    constraint penalties) are non-persistent, so never saved nor expected, and tied
    weights are handled by ``load_model`` (safetensors stores shared tensors once)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    try:
        missing, unexpected = load_model(head, path, strict=False)
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise unloadable(path.parent, exc) from None
    if missing or unexpected:
        problems = [
            f"{label} tensors {_names(keys)}" for label, keys in (("missing", missing), ("unexpected", unexpected)) if keys
        ]
        raise RunDirError(
            f"{path} does not hold the head of task {task_name}: {'; '.join(problems)}; train the run again"
        )


def check_encoder(missing: Iterable[str], head: Any, model_dir: Path) -> None:
    """Refuse an encoder whose files lack tensors that the model uses: they would be
    random, and predict something else on every load. Only the pooler may be absent,
    where the head ignores it (a run drops an unused pooler before it trains)."""
    pooler_unused = not getattr(head, "uses_pooler", True)
    lacking = [name for name in missing if not (pooler_unused and name.startswith("pooler."))]
    if lacking:
        raise RunDirError(
            f"{model_dir}: the saved encoder lacks tensors {_names(lacking)}; they would be random. Train the run again"
        )


def _names(keys: Iterable[str], shown: int = 5) -> str:
    names = sorted(keys)
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def unloadable(model_dir: Path, exc: Exception) -> RunDirError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RunDirError(f"{model_dir}: the saved model cannot be loaded ({first}); train the run again")
