"""The monitored metric: which validation metric picks the best checkpoint, and how the
logs name validation metrics (``val_<name>``: this module alone builds that prefix)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.sections import Recipe
    from nlpkit.task import Task

VAL_PREFIX = "val_"
"""What the logs (Lightning's, metrics.csv, the learning curve) put before a validation metric."""


def val_key(name: str) -> str:
    """The logged name of validation metric ``name``: ``accuracy`` -> ``val_accuracy``."""
    return f"{VAL_PREFIX}{name}"


def is_val_key(key: str) -> bool:
    return key.startswith(VAL_PREFIX)


def metric_name(key: str) -> str:
    """The metric of a logged name (``val_accuracy`` -> ``accuracy``); other names unchanged."""
    return key.removeprefix(VAL_PREFIX)


@dataclass(frozen=True)
class Monitor:
    """The validation metric that picks the best checkpoint: ``name`` as the task's
    ``compute_metrics`` returns it, ``mode`` (``max``: higher is better, or ``min``),
    and ``source``, where it was set, for messages."""

    name: str
    mode: str = "max"
    source: str = ""

    @classmethod
    def of(cls, recipe: "Recipe", task: "Task") -> "Monitor":
        """The recipe's ``train.monitor`` and ``train.monitor_mode``, else the task's."""
        train = recipe.train
        source = f"{recipe.source}: train.monitor" if train.monitor else f"task {task.name}'s monitor"
        return cls(train.monitor or task.monitor, train.monitor_mode or task.monitor_mode, source)

    @property
    def key(self) -> str:
        """The name under which it is logged and checkpoints are chosen: ``val_<name>``."""
        return val_key(self.name)

    def better(self, score: float, previous: float | None) -> bool:
        """Whether ``score`` beats ``previous`` (None: there is none yet)."""
        return previous is None or (score > previous if self.mode == "max" else score < previous)
