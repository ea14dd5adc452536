"""``nlpkit export RUN_DIR OUT``: a finished run's model as a directory that another
library loads, and that nlpkit loads back.

Formats: ``hf`` (plain transformers: ``AutoModelFor...``, ``pipeline``; :mod:`nlpkit.export.hf`)
and ``onnx`` (onnxruntime; :mod:`nlpkit.export.onnx`, optional). The core writes what every
format shares: the metadata (:data:`nlpkit.rundir.EXPORT_META`), the task state and recipe
nlpkit needs (``ExportDir.saved``) and the model card (:mod:`nlpkit.export.card`); a
format's writer adds its own files. Everything is written beside ``OUT`` first and moved
into place only when the export is whole and verified.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nlpkit.errors import NlpkitError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor
    from nlpkit.rundir import ExportDir, RunDir

log = logging.getLogger("nlpkit")

Format = Literal["hf", "onnx"]
FORMATS: tuple[str, ...] = ("hf", "onnx")
QUANTIZE: tuple[str, ...] = ("int8",)


def export(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    format: Format | str = "hf",
    quantize: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Export the model of the finished run ``run_dir`` into ``out``; returns ``out``.

    ``format``: ``"hf"`` or ``"onnx"``; ``quantize``: ``"int8"`` (onnx only). ``out``
    must be new or empty, or hold an earlier export and ``overwrite`` be set (the rules
    of run directories: a directory that is not an nlpkit export is never written into).
    Raises :class:`~nlpkit.errors.NlpkitError` subclasses: ``RunDirError`` for a missing
    or unfinished run and an ``out`` in the way, ``NlpkitError`` for a task or format that
    cannot be exported. The export verifies itself before it returns."""
    from nlpkit.predictor import Predictor, read_meta
    from nlpkit.rundir import RunDir, check_export_target, staged_export

    _check_options(format, quantize)
    run_dir, out = Path(run_dir), Path(out)
    read_meta(run_dir)  # a finished run, before anything is loaded
    check_export_target(out, overwrite=overwrite)
    writer = _writer(format)
    # On the CPU whatever the machine has: the graphs are traced and every export is
    # checked against a reload on the CPU (onnxruntime runs there).
    predictor = Predictor.load(run_dir).to("cpu")
    with staged_export(out) as stage:
        details = writer(predictor, RunDir(run_dir), stage, quantize)
        _write_nlpkit_state(RunDir(run_dir), stage)
        meta = _metadata(predictor, run_dir, format, quantize, details)
        from nlpkit.export.card import write_card

        write_card(stage, RunDir(run_dir), meta, out.name)
        _write_meta(stage, meta)
    log.info("exported %s (%s) to %s", run_dir, format, out)
    return out


def _check_options(format: str, quantize: str | None) -> None:
    if format not in FORMATS:
        raise NlpkitError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if quantize is not None and quantize not in QUANTIZE:
        raise NlpkitError(f"unknown --quantize {quantize!r}; choose {', '.join(QUANTIZE)}")
    if quantize is not None and format != "onnx":
        raise NlpkitError(f"--quantize applies to --format onnx only, not {format}")


Writer = Any
"""``(predictor, run, stage, quantize) -> dict``: writes a format's files into ``stage``
and returns what the metadata records of them."""


def _writer(format: str) -> Writer:
    """The format's writer; imported now, so that a missing optional package is said
    before the model is loaded."""
    if format == "hf":
        from nlpkit.export.hf import write_hf

        return write_hf
    try:
        from nlpkit.export.onnx import export_onnx
    except ImportError as exc:
        raise NlpkitError(
            f"--format onnx is not available in this installation ({exc}); install nlpkit[onnx]"
        ) from None

    def write_onnx(predictor: "Predictor", run: "RunDir", stage: "ExportDir", quantize: str | None) -> dict[str, Any]:
        return export_onnx(predictor, stage.path, quantize=quantize)

    return write_onnx


def _write_nlpkit_state(run: Any, stage: "ExportDir") -> None:
    """The task state, the recipe and the encoder's config from the run's ``model/``:
    nlpkit builds the task and the encoder from them when it loads the export."""
    saved = stage.saved
    saved.path.mkdir(parents=True, exist_ok=True)
    source = run.model_dir
    for name in (source.task_file, source.recipe, source.config):
        shutil.copyfile(name, saved.path / name.name)


def _metadata(predictor: "Predictor", run_dir: Path, format: str, quantize: str | None,
              details: dict[str, Any]) -> dict[str, Any]:
    from nlpkit.predictor import read_meta
    from nlpkit.version import __version__

    task_meta = read_meta(run_dir)
    return {
        "format": format,
        "task": predictor.task.name,
        "plugin": task_meta.get("plugin"),
        "plugin_version": task_meta.get("plugin_version"),
        "labels": details.pop("labels", None),
        "precision": predictor.precision,
        "quantize": quantize,
        "nlpkit": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source": str(run_dir),
        format: details,
    }


def _write_meta(stage: "ExportDir", meta: dict[str, Any]) -> None:
    from nlpkit.rundir import EXPORT_META, write_json

    files = sorted(p.name for p in stage.path.iterdir())
    write_json(stage.meta, {**meta, "files": sorted({*files, EXPORT_META})})
