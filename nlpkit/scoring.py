"""Metrics of predictions, through the task's ``evaluate.Metric``: the one place in the
core that imports ``evaluate`` (when it is called: predicting never imports it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from nlpkit.errors import PluginError

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.task import Task


def compute_metrics(task: "Task", examples: Sequence[Any], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``task.metric().compute(**task.metric_inputs(examples, predictions))``: flat numbers
    are what training logs and monitors, nested values (per class) go to metrics.json."""
    import evaluate

    metric = task.metric()
    if not isinstance(metric, evaluate.Metric):
        raise PluginError(f"task {task.name}: metric() returned {type(metric).__name__}, not an evaluate.Metric")
    metrics = metric.compute(**task.metric_inputs(examples, predictions))
    if not isinstance(metrics, dict):
        raise PluginError(f"task {task.name}: its metric computed {type(metrics).__name__}, not a dict of metrics")
    return metrics
