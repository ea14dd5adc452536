"""``task: sentiment``: polarity classes with a polarity score; rating regression end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nlpkit
from nlpkit.errors import DataError
from nlpkit.plugins import get_task
from nlpkit.recipe import build_recipe
from nlpkit.task import TaskSettings
from nlpkit_classification.task import TextExample

from .conftest import read_jsonl


def make_task(data: dict | None = None, head: dict | None = None):
    recipe = build_recipe({"task": "sentiment", "data": data or {}, "head": head or {}}, check_paths=False)
    return get_task("sentiment")(TaskSettings.of(recipe))


def test_label_map_fixes_names_and_polarity_order(tmp_path: Path) -> None:
    path = tmp_path / "reviews.tsv"
    path.write_text("label\ttext\n2\tgreat\n0\tawful\n1\tokay\n", encoding="utf-8")
    task = make_task({"label_map": {2: "positive", 0: "negative", 1: "neutral"}})  # YAML int keys
    examples = task.read(path, "train")
    task.setup(examples)
    assert [e.label for e in examples] == ["positive", "negative", "neutral"]
    assert task.labels == ["negative", "neutral", "positive"]  # known words decide, not the map's order
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttext\n7\tweird\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:2: label '7' .* is not in data.label_map"):
        task.read(bad, "train")


def test_word_labels_sort_by_polarity_and_score_in_minus_one_to_one() -> None:
    task = make_task()
    task.setup([TextExample("x", label) for label in ("positive", "neutral", "negative")])
    assert task.labels == ["negative", "neutral", "positive"]
    logits = [np.array([0.0, 0.0, 9.0]), np.array([9.0, 0.0, 0.0]), np.array([0.0, 9.0, 0.0])]
    examples = [TextExample("x")] * 3
    features = [{"example_id": i} for i in range(3)]
    predictions = task.decode(examples, features, logits)
    assert [p["label"] for p in predictions] == ["positive", "negative", "neutral"]
    assert predictions[0]["polarity"] == pytest.approx(1.0, abs=1e-3)
    assert predictions[1]["polarity"] == pytest.approx(-1.0, abs=1e-3)
    assert predictions[2]["polarity"] == pytest.approx(0.0, abs=1e-9)
    p = predictions[0]["probabilities"]
    assert predictions[0]["polarity"] == pytest.approx(p["positive"] - p["negative"])


def test_other_labels_follow_the_label_map_then_numeric_order() -> None:
    task = make_task()
    task.setup([TextExample("x", label) for label in ("10", "2")])
    assert task.labels == ["2", "10"]
    task = make_task({"label_map": {"a": "bad", "b": "good"}})
    task.setup([TextExample("x", label) for label in ("good", "bad")])
    assert task.labels == ["bad", "good"] and task.polarity_weights() == [-1.0, 1.0]


def test_regression_labels_must_be_numbers(tmp_path: Path) -> None:
    path = tmp_path / "stars.tsv"
    path.write_text("label\ttext\n5\tgreat\nmany\tawful\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"stars.tsv:3: label 'many' .* is not a number"):
        make_task(head={"type": "regression"}).read(path, "train")


def test_sentiment_classification_predictions_carry_label_probabilities_polarity(
    tiny_encoder: Path, sentiment_files: dict[str, Path], tmp_path: Path
) -> None:
    recipe = {
        "task": "sentiment",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {"train": str(sentiment_files["train"]), "validation": str(sentiment_files["validation"]),
                 "label_map": {0: "negative", 1: "positive"}},
        "train": {"epochs": 8, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }
    result = nlpkit.run(recipe)
    assert result.metrics["validation"]["accuracy"] >= 0.9
    prediction = nlpkit.load(result.run_dir).predict("i loved it , a great fun movie")
    assert prediction["label"] == "positive"
    assert set(prediction) == {"label", "probabilities", "polarity"}
    assert 0 < prediction["polarity"] <= 1


def test_rating_regression_trains_predicts_and_reloads(rating_recipe: dict) -> None:
    rating_recipe["output"]["report"] = True
    result = nlpkit.run(rating_recipe)
    metrics = result.metrics["validation"]
    assert set(metrics) == {"pearson", "spearman", "mae", "mse"}
    assert metrics["pearson"] > 0.5 and metrics["mae"] < 1.5
    saved = read_jsonl(result.run_dir / "predictions/validation.jsonl")
    assert all(1.0 <= row["rating"] <= 5.0 and -1.0 <= row["polarity"] <= 1.0 for row in saved)
    assert isinstance(saved[0]["gold"], float)
    predictor = nlpkit.load(result.run_dir)
    again = predictor.predict([row["text"] for row in saved])
    assert [p["rating"] for p in again] == [row["rating"] for row in saved]  # reload reproduces exactly
    good = predictor.predict("truly a good and fun story , wonderful actors")["rating"]
    bad = predictor.predict("awful , bad plot , i hated every minute")["rating"]
    assert good > bad + 1.0
    # The report's scale view: the metric's numbers again, the largest errors first.
    from nlpkit.report.facts import read_facts
    from nlpkit.report.render import context
    from nlpkit.rundir import RunDir

    view = context(read_facts(RunDir(result.run_dir), "validation"))["view"]
    assert view["kind"] == "scale" and view["result"].key == "rating" and not view["mismatches"]
    assert view["result"].pearson == pytest.approx(metrics["pearson"]) and view["result"].mae == pytest.approx(metrics["mae"])
    errors = [abs(row["error"]) for row in view["result"].largest]
    assert errors == sorted(errors, reverse=True) and errors[0] == pytest.approx(max(abs(r["rating"] - r["gold"]) for r in saved))
    assert "Largest errors" in (result.run_dir / "report.html").read_text(encoding="utf-8")
