"""nlpkit: fine-tune and pre-train BERT encoders for everyday NLP tasks from one recipe."""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from nlpkit.hookspecs import hookimpl
from nlpkit.version import __version__

__all__ = ["hookimpl", "run", "load", "embedder", "RunResult", "Predictor", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.embed import Embedder
    from nlpkit.predictor import Predictor
    from nlpkit.recipe import Recipe
    from nlpkit.train import RunResult


def run(
    recipe: "str | PathLike[str] | Mapping[str, Any] | Recipe",
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    data: Mapping[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> "RunResult":
    """Train and evaluate a recipe; returns its metrics and run directory.

    ``recipe``: a YAML file, a mapping of the same sections, or a loaded
    :class:`nlpkit.recipe.Recipe`. ``overrides``: ``["train.epochs=1", ...]`` as on the
    command line (values parsed as YAML), or a mapping ``{"train.epochs": 1}``.
    ``data`` gives splits in memory, ``{"train": ..., "validation": ...}``, each a
    ``datasets.Dataset``, a pandas DataFrame or a list of dicts, read through the recipe's
    ``data.columns`` as a Parquet file would be; a split given here replaces the
    recipe's file for it. ``resume`` continues the run in ``output.dir`` from its last checkpoint;
    ``overwrite`` replaces an earlier run there.

    Raises :class:`nlpkit.errors.NlpkitError` subclasses for bad recipes, data and run
    directories, and :class:`nlpkit.errors.Interrupted` (a ``KeyboardInterrupt``) on
    Ctrl-C, saying what was kept.
    """
    from nlpkit.train import run as _run

    return _run(recipe, overrides, data=data, resume=resume, overwrite=overwrite)


def load(run_dir: "str | PathLike[str]", *, quantize: str | None = None) -> "Predictor":
    """Load a finished run directory for prediction: ``nlpkit.load(d).predict(texts)``;
    ``quantize="int8"``: the model as onnxruntime's int8 graph, made once and cached
    (faster on a CPU; the outputs change a little; :mod:`nlpkit.quantize`)."""
    from nlpkit.quantize import load as load_quantized

    return load_quantized(run_dir, quantize)


def embedder(model: "str | PathLike[str]") -> "Embedder":
    """Sentence embeddings from ``model``: ``nlpkit.embedder("minilm").embed(texts)``.
    ``model`` is a run directory or an export (its fine-tuned encoder, as
    ``nlpkit.load(d).embed``), else an encoder alias, a transformers folder or a hub id."""
    from pathlib import Path

    from nlpkit.embed import Embedder
    from nlpkit.predictor import Predictor
    from nlpkit.rundir import ExportDir, RunDir

    if RunDir(model).finished or ExportDir(Path(model)).is_export:
        return Predictor.load(model).embedder()
    return Embedder.load(str(model))


def __getattr__(name: str) -> Any:
    # The result types, without importing torch and transformers with ``import nlpkit``.
    if name == "RunResult":
        from nlpkit.train import RunResult

        return RunResult
    if name == "Predictor":
        from nlpkit.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'nlpkit' has no attribute {name!r}")
