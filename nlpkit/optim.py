"""AdamW with weight-decay exclusions, layer-wise learning-rate decay, and a learning
rate of their own for the embedding rows of added tokens."""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from nlpkit.sections import TrainSection

_NO_DECAY = ("bias", "LayerNorm.weight", "LayerNorm.bias", "layer_norm.weight", "layernorm.weight")
_LAYER = re.compile(r"\.layer\.(\d+)\.")


def _depth(name: str, num_layers: int) -> int:
    """0 for embeddings, i+1 for transformer layer i, num_layers+1 for the rest (pooler)."""
    if "embeddings" in name:
        return 0
    match = _LAYER.search(name)
    return int(match.group(1)) + 1 if match else num_layers + 1


def parameter_groups(encoder: nn.Module, head: nn.Module, train: TrainSection) -> list[dict[str, Any]]:
    """Groups for AdamW: no decay on biases and LayerNorm; with ``layer_lr_decay`` < 1
    each encoder layer gets ``lr * decay ** (distance from the top)``."""
    num_layers = getattr(getattr(encoder, "config", None), "num_hidden_layers", 0)
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    seen: set[int] = set()

    def add(params: Any, lr: float) -> None:
        for name, param in params:
            if not param.requires_grad or id(param) in seen:
                continue  # tied weights (MLM decoder) belong to the encoder's group
            seen.add(id(param))
            decay = 0.0 if any(name.endswith(nd) or nd in name for nd in _NO_DECAY) else train.weight_decay
            groups.setdefault((lr, decay), []).append(param)

    for name, param in encoder.named_parameters():
        scale = train.layer_lr_decay ** (num_layers + 1 - _depth(name, num_layers))
        add([(name, param)], train.lr * scale)
    add(head.named_parameters(), train.head_lr or train.lr)
    return [{"params": p, "lr": lr, "weight_decay": wd} for (lr, wd), p in groups.items()]


def embeddings_lr(encoder: nn.Module, train: TrainSection) -> float:
    """The peak learning rate of the encoder's embeddings in :func:`parameter_groups`."""
    num_layers = getattr(getattr(encoder, "config", None), "num_hidden_layers", 0)
    return train.lr * train.layer_lr_decay ** (num_layers + 1)


def train_new_rows_at(optimizer: Optimizer, embedding: nn.Parameter, first_new: int, factor: float) -> None:
    """Make every optimizer step move the embedding rows from ``first_new`` on ``factor``
    times as far as it moves the old rows.

    Added tokens start from nothing learned while the old rows only need a nudge: they
    need a learning rate of their own, but they share one parameter (and one parameter
    group) with the old rows. An AdamW step, decay included, is proportional to the
    learning rate, so scaling these rows' change by ``factor`` after each step is exactly
    a step at ``factor`` times the rate (the schedule scales every group alike).
    """
    if factor == 1.0 or first_new >= embedding.shape[0]:
        return
    before: list[Tensor] = []

    def keep(*_: Any) -> None:
        before[:] = [embedding.detach()[first_new:].clone()]

    def scale(*_: Any) -> None:
        rows = embedding.detach()[first_new:]
        rows.copy_(torch.lerp(before.pop(), rows, factor))

    optimizer.register_step_pre_hook(keep)
    optimizer.register_step_post_hook(scale)
