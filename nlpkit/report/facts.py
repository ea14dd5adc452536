"""What a report says of the run itself, from its run directory: task, recipe, data
sizes, encoder, precision, times, throughput, the split's metrics and predictions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nlpkit.errors import RunDirError
from nlpkit.rundir import RunDir

SPLITS = ("validation", "test")


@dataclass
class RunFacts:
    run: RunDir
    task: str
    split: str
    recipe: dict[str, Any]
    recipe_text: str
    training: dict[str, Any]
    metrics: dict[str, Any]
    """The split's metrics, as metrics.json holds them."""
    records: list[dict[str, Any]]
    """The split's predictions, one record per example (``predictions/<split>.jsonl``)."""

    @property
    def flat_metrics(self) -> dict[str, float]:
        return {k: v for k, v in self.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    @property
    def summary(self) -> list[tuple[str, str]]:
        """(what, value) rows of the run's table."""
        recipe, training = self.recipe, self.training
        encoder, train = recipe.get("encoder", {}), recipe.get("train", {})
        sizes = training.get("examples") or {}
        rows = [
            ("task", self.task),
            ("encoder", f"{encoder.get('name')} ({encoder.get('init', 'pretrained')}), max_length {encoder.get('max_length')}"),
            ("precision", str(train.get("precision"))),
            ("data", ", ".join(f"{name} {count:,}" for name, count in sizes.items()) or "not recorded"),
            ("training", f"{_count(training.get('epochs'), 'epoch')}, "
                         f"{_count(training.get('optimizer_steps'), 'optimizer step')}, "
                         f"batch size {train.get('batch_size')}, lr {train.get('lr')}"),
            ("wall time", _seconds(training.get("wall_seconds"))),
            ("training time", _seconds(training.get("train_seconds")) + " (without validation)"),
            ("throughput", f"{training['train_examples_per_second']:,.1f} training examples/s"
             if training.get("train_examples_per_second") else "not recorded"),
        ]
        return rows


def _count(value: Any, what: str) -> str:
    return f"{value:,} {what}{'s' * (value != 1)}" if isinstance(value, int) else f"{what}s: not recorded"


def _seconds(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "not recorded"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


def default_split(run: RunDir) -> str:
    """The validation split if the run scored one, else the test split."""
    metrics = _metrics(run)
    for split in SPLITS:
        if split in metrics:
            return split
    raise RunDirError(f"{run.metrics} holds no validation or test metrics: the run had no labelled data to report on")


def read_facts(run: RunDir, split: str) -> RunFacts:
    import yaml

    metrics = _metrics(run)
    if split not in metrics:
        scored = [s for s in SPLITS if s in metrics]
        raise RunDirError(
            f"{run.metrics} holds no {split} metrics (the run scored {', '.join(scored) or 'no split'}); "
            f"choose one with --split"
        )
    predictions = run.predictions(split, "jsonl")
    if not predictions.is_file():
        raise RunDirError(
            f"{predictions} is missing: the report reads the run's predictions (the run had "
            "output.save_predictions: false?)"
        )
    recipe_text = run.recipe.read_text(encoding="utf-8")
    return RunFacts(
        run=run, task=run.model_dir.task_name() or "unknown", split=split,
        recipe=yaml.safe_load(recipe_text) or {}, recipe_text=recipe_text,
        training=metrics.get("training", {}), metrics=metrics[split], records=_records(predictions),
    )


def _metrics(run: RunDir) -> dict[str, Any]:
    if not run.metrics.is_file():
        raise RunDirError(f"{run.path} is not a finished run: it has no {run.metrics.name}")
    try:
        return json.loads(run.metrics.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RunDirError(f"{run.metrics} cannot be read as JSON ({exc})") from None


def _records(path: Any) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise RunDirError(f"{path}, line {number}: not a JSON record ({exc})") from None
    return records
