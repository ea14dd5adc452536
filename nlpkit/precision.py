"""``train.precision: auto``: the precision this machine trains and predicts in."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.sections import Recipe

log = logging.getLogger("nlpkit")


def resolve_precision(precision: str) -> str:
    """``auto`` -> ``bf16-mixed`` on hardware with bf16 matrix units (CUDA with bf16,
    CPUs with AVX512-BF16 or AMX), else ``32``. Emulated bf16 on an AVX2-only CPU runs
    matrix products about 200x slower than fp32 (docs/benchmarks.md)."""
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return "32"
    return "bf16-mixed" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "32"


def with_resolved_precision(recipe: "Recipe", *, say: bool = True) -> "Recipe":
    """The recipe with ``train.precision`` resolved: what a run writes in its run directory
    (both ``recipe.yaml`` files) and trains with. ``say``: log what ``auto`` chose."""
    precision = resolve_precision(recipe.train.precision)
    if recipe.train.precision == "auto" and say:
        log.info("train.precision auto: %s", precision)
    return recipe.model_copy(update={"train": recipe.train.model_copy(update={"precision": precision})})


def autocast(precision: str, device: str) -> "contextlib.AbstractContextManager[Any]":
    """The autocast context of inference at ``precision`` (bf16 for ``bf16-mixed``)."""
    import torch

    if precision == "bf16-mixed":
        return torch.autocast(device, dtype=torch.bfloat16)
    return contextlib.nullcontext()
