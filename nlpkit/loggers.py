"""``trainer.logger``: which experiment trackers a run writes to, with their options.

::

    trainer:
      logger: tensorboard                 # one name
      logger: [csv, tensorboard, mlflow]  # several
      logger:                             # with options
        mlflow: {experiment_name: sst2, tracking_uri: "file:./mlruns"}
        wandb: {project: nlpkit}

``logs/metrics.csv`` is written whatever the recipe says: the learning curve and the
report are drawn from it. Without ``trainer.logger`` a run writes the CSV and
TensorBoard's event files. Each tracker's options are a section of their own, checked
like every other recipe key when the recipe loads (nothing is imported then).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, ValidationError

from nlpkit.errors import RecipeError
from nlpkit.sections import Section

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.sections import Recipe

EXTRA = "tracking"
"""The pip extra that installs MLflow and W&B: ``pip install 'nlpkit[tracking]'``."""


class LoggerOptions(Section):
    """A tracker's options; ``module`` is what must be importable to use it."""

    module: ClassVar[str] = ""


class CsvOptions(LoggerOptions):
    module: ClassVar[str] = "csv"
    flush_logs_every_n_steps: int = Field(100, gt=0, description="Rows kept in memory before they are written.")


class TensorBoardOptions(LoggerOptions):
    module: ClassVar[str] = "tensorboard"
    flush_secs: int = Field(120, gt=0, description="Seconds between writes of the event file.")


class MlflowOptions(LoggerOptions):
    module: ClassVar[str] = "mlflow"
    experiment_name: str = Field("nlpkit", description="MLflow experiment that the run joins (created if new).")
    run_name: str | None = Field(None, description="Default: the run directory's name.")
    tracking_uri: str | None = Field(
        None, description="Tracking store; default: $MLFLOW_TRACKING_URI, else the file store ./mlruns."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags of the MLflow run.")


class WandbOptions(LoggerOptions):
    module: ClassVar[str] = "wandb"
    project: str = Field("nlpkit", description="W&B project.")
    name: str | None = Field(None, description="Run name; default: the run directory's name.")
    offline: bool = Field(
        True, description="Write the run under logs/wandb/ only (sync it later with `wandb sync`); false: stream it."
    )
    entity: str | None = Field(None, description="W&B team or user (online only).")
    group: str | None = Field(None, description="Group of runs.")
    tags: list[str] = Field(default_factory=list, description="Tags of the run.")
    notes: str | None = Field(None, description="A description of the run.")


LOGGERS: dict[str, type[LoggerOptions]] = {
    "csv": CsvOptions, "tensorboard": TensorBoardOptions, "mlflow": MlflowOptions, "wandb": WandbOptions,
}
DEFAULT = ("csv", "tensorboard")


def logger_options(value: Any, source: str = "<recipe>") -> dict[str, LoggerOptions]:
    """The trackers that ``trainer.logger`` names, with their validated options; the CSV
    log always among them. Absent (None, or true): CSV and TensorBoard."""
    if value is None or value is True:
        value = list(DEFAULT)
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(name, str) for name in value):
        value = {name: None for name in value}
    if not isinstance(value, dict):
        raise RecipeError(
            f"{source}: trainer.logger: expected a logger name ({', '.join(LOGGERS)}), a list of names or a "
            f"mapping of names to options, got {value!r:.80}"
            + ("; logs/metrics.csv is always written (the learning curve and the report read it)"
               if value is False else "")
        )
    chosen: dict[str, LoggerOptions] = {"csv": CsvOptions()}
    for name, options in value.items():
        chosen[name] = _options(name, options, source)
    return chosen


def _options(name: Any, options: Any, source: str) -> LoggerOptions:
    import difflib

    if name not in LOGGERS:
        hint = difflib.get_close_matches(str(name), LOGGERS, n=1)
        raise RecipeError(
            f"{source}: unknown logger trainer.logger.{name}"
            + (f" (did you mean {hint[0]}?)" if hint else "") + f"; the loggers: {', '.join(LOGGERS)}"
        )
    if options is not None and not isinstance(options, dict):
        raise RecipeError(f"{source}: trainer.logger.{name}: expected a mapping of options, got {options!r:.80}")
    try:
        return LOGGERS[name].model_validate(options or {})
    except ValidationError as exc:
        raise RecipeError(f"{source}: {'; '.join(_problem(name, e) for e in exc.errors())}") from None


def _problem(name: str, error: Any) -> str:
    key = f"trainer.logger.{name}." + ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key {key}; known keys: {', '.join(LOGGERS[name].model_fields)}"
    return f"{key}: {error['msg'][:1].lower()}{error['msg'][1:]}, got {error.get('input')!r}"


def check_installed(chosen: dict[str, LoggerOptions], source: str) -> None:
    """Say at once, not after the data is read, that a tracker's package is missing."""
    import importlib.util

    missing = [name for name, options in chosen.items()
               if options.module != "csv" and importlib.util.find_spec(options.module) is None]
    if missing:
        raise RecipeError(
            f"{source}: trainer.logger names {', '.join(missing)}, which is not installed: "
            f"pip install 'nlpkit[{EXTRA}]' (MLflow and W&B) or pip install {' '.join(missing)}"
        )


def _allow_file_store(uri: str | None) -> None:
    """MLflow 3 refuses its file store (in maintenance, it says) unless told otherwise:
    the offline store that needs no database is what ``trainer.logger: mlflow`` uses by
    default, so a file store URI (or none: ./mlruns) is allowed for this process."""
    if uri is None or uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def build_loggers(recipe: "Recipe", logs: Path) -> list[Any]:
    """The Lightning loggers of a run whose logs go to ``logs`` (the run directory's
    ``logs/``): ``logs/metrics.csv``, ``logs/tensorboard/``, ``logs/wandb/``; MLflow
    writes to its tracking store."""
    from pytorch_lightning import loggers

    chosen = logger_options(recipe.trainer.get("logger"), str(recipe.source))
    check_installed(chosen, str(recipe.source))
    run_name = recipe.output_dir.name
    made: list[Any] = []
    for name, options in chosen.items():
        if isinstance(options, CsvOptions):
            made.append(loggers.CSVLogger(logs.parent, name=logs.name, version="", **options.model_dump()))
        elif isinstance(options, TensorBoardOptions):
            made.append(loggers.TensorBoardLogger(
                logs.parent, name=logs.name, version="tensorboard", default_hp_metric=False, **options.model_dump()))
        elif isinstance(options, MlflowOptions):
            kwargs = options.model_dump(exclude_none=True)
            _allow_file_store(kwargs.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI"))
            made.append(loggers.MLFlowLogger(**{"run_name": run_name, **kwargs}))
        elif isinstance(options, WandbOptions):
            kwargs = options.model_dump(exclude_none=True)
            made.append(loggers.WandbLogger(save_dir=str(logs), **{"name": run_name, **kwargs}))
    return made
