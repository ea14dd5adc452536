"""int8 at predict time: ``nlpkit.load(run, quantize="int8")``, ``nlpkit predict --quantize int8``.

The run's model is exported once as onnxruntime's int8 graph (what ``nlpkit export
--format onnx --quantize int8`` writes: the weights of the matrix products in int8, the
activations quantized on the fly), kept in the cache under a fingerprint of the model's
files, and predicted with onnxruntime. On this project's AVX2 CPUs that graph predicted
1.4 to 2.1 times as fast as PyTorch's dynamic int8 quantization of the same model, and
changed fewer labels of the fp32 model (docs/benchmarks.md, "Distillation and int8").

The export takes seconds to a minute, once per model; later loads find it in the cache
(``$NLPKIT_CACHE/int8``, else ``~/.cache/nlpkit/int8``). Needs ``nlpkit[onnx]``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nlpkit.errors import NlpkitError
from nlpkit.rundir import ExportDir, RunDir
from nlpkit.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor

log = logging.getLogger("nlpkit")
QUANTIZE: tuple[str, ...] = ("int8",)


def load(run_dir: str | os.PathLike[str], quantize: str | None = None) -> "Predictor":
    """The predictor of ``run_dir``; with ``quantize="int8"``, of its cached int8 graph."""
    from nlpkit.predictor import Predictor

    if quantize is None:
        return Predictor.load(run_dir)
    if quantize not in QUANTIZE:
        raise NlpkitError(f"unknown quantize {quantize!r}; choose {', '.join(QUANTIZE)}")
    if ExportDir(Path(run_dir)).is_export:
        raise NlpkitError(
            f"{run_dir} is an export: quantize applies to run directories (an onnx export is quantized when it "
            "is made: nlpkit export RUN OUT --format onnx --quantize int8)"
        )
    return Predictor.load(int8_graph(run_dir))


def int8_graph(run_dir: str | os.PathLike[str]) -> Path:
    """The int8 ONNX export of the run's model, made on first use and kept in the cache."""
    from nlpkit.export import export
    from nlpkit.predictor import read_meta

    read_meta(run_dir)  # a finished run: said before anything is hashed
    out = _cache_root() / "int8" / fingerprint(RunDir(run_dir).model_dir.path)
    if not ExportDir(out).is_export:
        log.info("quantize int8: exporting %s as an int8 onnx graph, once (kept in %s)", run_dir, out)
        export(run_dir, out, format="onnx", quantize="int8", overwrite=True)
    return out


def fingerprint(model_dir: Path) -> str:
    """Of every file of a saved model (names and bytes) and of nlpkit's version: a model
    trained again, or another nlpkit, gets a graph of its own."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:24]


def _cache_root() -> Path:
    return Path(os.environ.get("NLPKIT_CACHE") or Path.home() / ".cache" / "nlpkit")
