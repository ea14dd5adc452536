"""int8 at predict time: ``nlpkit.load(run, quantize="int8")``, ``nlpkit predict --quantize int8``.

PyTorch's dynamic quantization: the weights of the encoder's linear layers are stored as
int8 (one scale per tensor), and each batch's activations are quantized on the fly, so
the matrix products of the attention and feed-forward blocks, most of a forward pass, run
in int8. It needs no calibration data and takes a second at load time. On this project's
AVX2 CPUs it predicted faster than onnxruntime's int8 graph of the same model, and needs no
export (docs/benchmarks.md, "int8 at predict time").

The head stays in float: it is one small layer whose outputs are the probabilities,
scores and spans that users read.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from nlpkit.errors import NlpkitError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.model import TaskModel

QUANTIZE: tuple[str, ...] = ("int8",)


def check_quantize(quantize: str | None) -> None:
    if quantize is not None and quantize not in QUANTIZE:
        raise NlpkitError(f"unknown quantize {quantize!r}; choose {', '.join(QUANTIZE)}")


def quantized(model: "TaskModel") -> "TaskModel":
    """The model with its encoder's linear layers in int8 (in place; for CPU inference)."""
    import torch
    from torch import nn
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # torch marks its eager quantization as moving to torchao; it is what runs here.
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning, FutureWarning))
        quantize_dynamic(model.encoder.eval(), {nn.Linear}, dtype=torch.qint8, inplace=True)
    return model
