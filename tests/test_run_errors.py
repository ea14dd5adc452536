"""Mistakes that stop a run early with a message: an accelerator the machine lacks, a monitor
that is not a metric, a task state that is not JSON, a tokenizer to train with no texts."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlpkit
from nlpkit.errors import RecipeError


def test_an_accelerator_the_machine_lacks_is_a_recipe_error(classification_recipe: dict) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    classification_recipe["trainer"] = {"accelerator": "gpu"}
    with pytest.raises(RecipeError, match=r"trainer section: No supported gpu backend found"):
        nlpkit.run(classification_recipe)


def test_a_monitor_that_is_not_a_metric_stops_at_the_first_validation(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that does not name its metrics in advance (metric_names() is None, as for a
    plugin written before it existed) is checked at the first validation instead."""
    from nlpkit_classification.task import ClassificationTask

    monkeypatch.setattr(ClassificationTask, "metric_names", lambda self: None)
    classification_recipe["train"]["monitor"] = "acc"
    with pytest.raises(RecipeError, match=(
        r"<recipe>: train.monitor: the monitored metric 'acc' is not a validation metric of task classification; "
        r"its metrics: accuracy, macro_f1, mcc"
    )):
        nlpkit.run(classification_recipe)


def test_a_task_state_that_cannot_be_saved_fails_before_training(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlpkit.errors import PluginError
    from nlpkit_classification.task import ClassificationTask

    monkeypatch.setattr(ClassificationTask, "state_dict", lambda self: {"labels": set(self.labels)})
    with pytest.raises(PluginError, match=r"task classification \(plugin 'classification'\): state_dict\(\) must be JSON"):
        nlpkit.run(classification_recipe)
    assert not (Path(classification_recipe["output"]["dir"]) / "checkpoints").exists()


def test_training_a_tokenizer_without_texts_is_an_error() -> None:
    from nlpkit.encoder import train_wordpiece

    with pytest.raises(RecipeError, match=r"the task gives no training texts .*Task.texts"):
        train_wordpiece(iter(["", "  "]), 100, lowercase=True)
