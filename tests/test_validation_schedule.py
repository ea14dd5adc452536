"""When a run validates: the interval, and the last steps after the final validation."""

from __future__ import annotations

import csv

import pytest

import nlpkit
from nlpkit.errors import RecipeError


def test_a_validation_interval_longer_than_an_epoch_is_a_recipe_error(classification_recipe: dict) -> None:
    classification_recipe["trainer"] = {"val_check_interval": 50}
    with pytest.raises(RecipeError, match=r"val_check_interval = 50 steps, but an epoch has only 6 training batches"):
        nlpkit.run(classification_recipe)
    classification_recipe["trainer"] = {"val_check_interval": 6}  # the same directory takes the fixed run
    assert nlpkit.run(classification_recipe).metrics["training"]["optimizer_steps"] == 12


def test_the_last_steps_after_the_final_validation_are_scored_and_can_be_the_model_kept(
    classification_recipe: dict,
) -> None:
    # 6 batches an epoch; Lightning validates every int(6 * 0.7) = 4 batches: at steps 4
    # and 10, never at the end of the run (steps 11 and 12) unless nlpkit does.
    classification_recipe["trainer"] = {"val_check_interval": 0.7}
    result = nlpkit.run(classification_recipe)
    out = result.run_dir
    log = (out / "train.log").read_text(encoding="utf-8")
    assert "the last 2 steps were not validated yet" in log
    with (out / "logs/metrics.csv").open(encoding="utf-8") as handle:
        scores = [float(row["val_accuracy"]) for row in csv.DictReader(handle) if row.get("val_accuracy")]
    assert len(scores) == 3  # steps 4, 10 and 12
    # The exported model is the best of all three, the final weights included.
    assert result.metrics["validation"]["accuracy"] == pytest.approx(max(scores))


def test_a_run_validated_at_its_last_step_is_not_validated_again(classification_recipe: dict) -> None:
    result = nlpkit.run(classification_recipe)
    assert "were not validated yet" not in (result.run_dir / "train.log").read_text(encoding="utf-8")
