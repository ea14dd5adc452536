"""Loading an export back into nlpkit: the format's model loader, by the metadata.

Kept apart from :mod:`nlpkit.export` (which loads runs through the predictor) so that the
predictor can dispatch here without an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from nlpkit.errors import NlpkitError, RunDirError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.rundir import ExportDir
    from nlpkit.task import Task

ModelLoader = Callable[["ExportDir", "Task"], Any]
"""``(export_dir, task) -> model``: an object the predictor calls like nlpkit's torch
model, ``model(batch) -> the head's output`` (a tensor or a dict of tensors), with
``eval()`` and ``to(device)`` returning itself."""


def check_export(export: "ExportDir") -> dict[str, Any]:
    """The export's metadata, after checking that nlpkit's own files are there."""
    meta = export.read_meta()
    for path in (export.saved.task_file, export.saved.recipe):
        if not path.is_file():
            raise RunDirError(
                f"{export.path} is incomplete: {path.relative_to(export.path)} is missing; export the run again"
            )
    return meta


def model_loader(format: str) -> ModelLoader:
    """The loader of an export's format: ``hf`` -> :func:`nlpkit.export.hf.load_model`,
    ``onnx`` -> ``nlpkit.export.onnx.load_model`` (optional: onnxruntime)."""
    if format == "hf":
        from nlpkit.export.hf import load_model

        return load_model
    if format == "onnx":
        try:
            from nlpkit.export.onnx import load_model as load_onnx
        except ImportError as exc:
            raise NlpkitError(
                f"this export is an ONNX model, which this installation cannot run ({exc}); install nlpkit[onnx]"
            ) from None
        return load_onnx
    raise RunDirError(f"unknown export format {format!r} (nlpkit reads hf and onnx exports); export the run again")
