"""nlpkit.load(run_dir).predict: the saved model predicts what was evaluated, and refuses
inputs it cannot read."""

from __future__ import annotations

import pytest

import nlpkit

from .helpers import read_jsonl


def test_reloaded_model_reproduces_the_evaluated_predictions_exactly(classification_recipe: dict) -> None:
    classification_recipe["train"]["precision"] = "bf16-mixed"
    out = nlpkit.run(classification_recipe).run_dir
    saved = read_jsonl(out / "predictions/validation.jsonl")
    predictor = nlpkit.load(out)
    again = predictor.predict([row["text"] for row in saved])
    assert [p["label"] for p in again] == [row["label"] for row in saved]
    assert [p["probabilities"] for p in again] == [row["probabilities"] for row in saved]
    single = predictor.predict(saved[0]["text"])
    assert single["label"] == saved[0]["label"]


def test_predict_refuses_inputs_it_cannot_order_or_read(classification_recipe: dict) -> None:
    classification_recipe["train"]["epochs"] = 1
    predictor = nlpkit.load(nlpkit.run(classification_recipe).run_dir)
    for wrong, message in ((b"good", "got bytes"), (5, "got int"), ({"good", "bad"}, "not a set")):
        with pytest.raises(TypeError, match=message):
            predictor.predict(wrong)
    assert len(predictor.predict(t for t in ("good", "bad"))) == 2  # any ordered iterable
