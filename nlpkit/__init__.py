"""nlpkit: fine-tune and pre-train BERT encoders for everyday NLP tasks from one recipe."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nlpkit.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["hookimpl", "run", "load", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.predictor import Predictor
    from nlpkit.train import RunResult


def run(recipe: Any, overrides: list[str] | tuple[str, ...] = (), *, resume: bool = False, overwrite: bool = False) -> "RunResult":
    """Run a recipe (a YAML path or a mapping); returns the metrics and the run directory."""
    from nlpkit.train import run as _run

    return _run(recipe, overrides, resume=resume, overwrite=overwrite)


def load(run_dir: Any) -> "Predictor":
    """Load a finished run directory for prediction: ``nlpkit.load(d).predict(texts)``."""
    from nlpkit.predictor import Predictor

    return Predictor.load(run_dir)
