"""CPU fast paths: the same training math, fewer cycles lost around it.

A MiniLM training step on a 2-core CPU spends about half its time outside the matrix
products (docs/benchmarks.md, "CPU fast paths"). Three of those costs are not
arithmetic at all, and each fix below leaves what the model computes unchanged:

* **Page faults.** glibc returns every freed block over 32 MiB to the kernel, so the
  dense gradient of the word embeddings (30,522 x 384 floats for MiniLM, 47 MB) is
  faulted in afresh at every step: 13 ms of a ~170 ms step. :func:`keep_freed_memory`
  keeps freed memory in the process.
* **Attention.** torch's fused CPU attention (``scaled_dot_product_attention``) is slower
  than the plain matmul-softmax-matmul form for sentence-length inputs, in training and
  in inference; it wins for long inputs without dropout. :func:`attention` picks per call.
* **Dropout masks.** ``bernoulli_`` draws one random number per element at ~6 ns each
  from torch's CPU generator. :func:`keep_mask` draws two 32-bit lanes per 64-bit draw:
  the same Bernoulli distribution (to 2**-32), a dropout about 2x as fast.

Off the CPU (CUDA, MPS) every function here falls back to the standard kernels.
``NLPKIT_CPU_FAST_PATHS=0`` in the environment turns all three off (for comparisons,
or if one ever misbehaves on a platform we have not measured).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import sys
from typing import Any

import torch
from torch import nn

log = logging.getLogger("nlpkit")

ATTENTION = "nlpkit"
# From this many key positions on, the fused kernel beats the plain form on CPU when no
# dropout is drawn (inference, or training with attention dropout 0).
SDPA_MIN_LENGTH = 256

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def enabled() -> bool:
    return os.environ.get("NLPKIT_CPU_FAST_PATHS", "1").strip().lower() not in ("0", "false", "no", "off")


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL("libc.so.6")


def keep_freed_memory() -> bool:
    """Make glibc serve large blocks from the heap and keep freed memory (process-wide).

    Returns False where there is no glibc (other platforms, musl), changing nothing.
    The price: freed memory stays in the process. Batches of very different sizes (QA
    windows of 100 to 384 tokens) fragment the heap, so what is kept can grow far past
    what is in use; :class:`KeptMemoryLimit` hands it back when it grows too large.
    """
    if not enabled() or not sys.platform.startswith("linux"):
        return False
    try:
        libc = _libc()
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


def resident_bytes() -> int:
    """The process's resident set size (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_limit() -> int:
    """Three quarters of the memory this process may use: the machine's, or its cgroup's
    if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as handle:
            text = handle.read().strip()
        if text.isdigit():
            total = min(total, int(text))
    except OSError:
        pass
    return total * 3 // 4


class KeptMemoryLimit:
    """Give freed memory back to the OS (``malloc_trim``) once the process's resident size
    passes ``limit`` bytes; checked after each batch, at the cost of reading one /proc line.

    Measured on the SQuAD recipe (docs/benchmarks.md): with freed memory kept, 1 GB is
    in use but 9 GB resident after 100 steps, 18.4 GB by the end of the run (10.6 GB with
    ``train.pad_to_multiple_of: 8``, which removes most of the fragmentation). A trim takes
    ~0.3 s, and the pages it frees are faulted in again as the fragmented heap is reused:
    with the limit at half the machine's memory the run trimmed 38 times and trained 26%
    slower (peak 13.5 GB). Hence a limit at three quarters: a guard against the
    out-of-memory killer, not a routine.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = memory_limit() if limit is None else limit
        self.trims = 0
        self._trim = _libc().malloc_trim  # only built where keep_freed_memory() succeeded

    def check(self) -> bool:
        if resident_bytes() <= self.limit:
            return False
        self._trim(0)
        self.trims += 1
        log.debug("resident memory over %.1f GB: freed memory handed back (trim %d)", self.limit / 2**30, self.trims)
        return True


def keep_mask(shape: torch.Size | tuple[int, ...], keep: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """A boolean tensor, each element True with probability ``keep``, independently.

    Uniform 64-bit draws are cut into two 32-bit lanes; a lane below ``keep * 2**32``
    (as a signed value) keeps its element. Seeded by torch's generator like any draw.
    """
    threshold = round(keep * 2**32) - 2**31
    if threshold >= 2**31:  # keep within 2**-33 of 1
        return torch.ones(shape, dtype=torch.bool, device=device)
    n = math.prod(shape)
    # The range excludes one of 2**64 values: a bias far below the lanes' resolution.
    draws = torch.randint(-(2**63), 2**63 - 1, ((n + 1) // 2,), dtype=torch.int64, device=device)
    lanes = draws.view(torch.int32)[:n].view(shape)
    return lanes < threshold


def dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout, as ``nn.functional.dropout(x, p, training=True)``."""
    if p <= 0.0:
        return x
    if p >= 1.0:
        return torch.zeros_like(x)
    keep = 1.0 - p
    return x.masked_fill(~keep_mask(x.shape, keep, x.device), 0) * (1.0 / keep)


_dropout = dropout  # ``attention`` takes a ``dropout`` argument (transformers' name)


class Dropout(nn.Dropout):
    """``nn.Dropout`` with the faster mask on CPU; identical module otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.inplace or x.device.type != "cpu":
            return super().forward(x)
        return dropout(x, self.p)


def attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention for transformers' ``AttentionInterface`` (inputs ``[batch, heads,
    length, head_size]``, output ``[batch, length, heads, head_size]``): the fused
    kernel where it is faster, else softmax(q k^T * scaling + mask) v with
    :func:`dropout` on the probabilities."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    drawing = dropout > 0.0 and module.training
    if query.device.type != "cpu" or (key.shape[-2] >= SDPA_MIN_LENGTH and not drawing):
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # True: may attend (SDPA's convention)
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    probs = scores.softmax(dim=-1)
    if drawing:
        probs = _dropout(probs, dropout)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), probs


def use_fast_paths(model: nn.Module) -> None:
    """Give ``model`` the faster attention (if it uses transformers' attention
    interface) and the faster dropout mask; its weights and outputs' meaning stay."""
    if not enabled():
        return
    from transformers import AttentionInterface, PreTrainedModel
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    for sub in model.modules():
        if type(sub) is nn.Dropout:
            sub.__class__ = Dropout
    # The outermost transformers model; setting it also sets its submodels.
    encoder = next((m for m in model.modules() if isinstance(m, PreTrainedModel)), None)
    if encoder is None:
        return
    try:
        encoder.set_attn_implementation(ATTENTION)
    except (ValueError, NotImplementedError) as exc:  # a model without the interface
        log.debug("keeping %s's attention: %s", type(encoder).__name__, exc)
