"""Slow: the shipped sentence-pair (MRPC) and sentiment (SST-2) recipes train on real-data
subsets from ../shared/data and beat what a model that ignores its inputs could score."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import nlpkit

from ..conftest import REPO, needs_data, recipe_splits

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_data_env")]


@needs_data("mrpc")
def test_mrpc_subset_beats_always_paraphrase(tmp_path: Path) -> None:
    shrink = ["data.limit_train=800", "data.limit_validation=100", "data.limit_test=400", "train.epochs=1"]
    result = nlpkit.run(REPO / "recipes" / "mrpc.yaml", [*shrink, f"output.dir={tmp_path / 'run'}"])
    _, _, splits = recipe_splits("mrpc.yaml", *shrink)
    gold = Counter(e.label for e in splits["test"].examples)
    always_paraphrase = gold["1"] / sum(gold.values())  # the majority class: 0.65 of these 400 pairs
    test = result.metrics["test"]
    assert test["accuracy"] > always_paraphrase + 0.03
    predictor = nlpkit.load(result.run_dir)
    same = predictor.predict(("The company said profits rose 5 percent .", "Profits rose 5 percent , the company said ."))
    assert same["label"] == "1"


@needs_data("sst2")
def test_sst2_sentiment_subset_scores_polarity(tmp_path: Path) -> None:
    shrink = ["data.limit_train=1000", "data.limit_validation=300", "train.epochs=1"]
    result = nlpkit.run(REPO / "recipes" / "sst2-sentiment.yaml", [*shrink, f"output.dir={tmp_path / 'run'}"])
    assert result.metrics["validation"]["accuracy"] > 0.7
    predictor = nlpkit.load(result.run_dir)
    good, bad = predictor.predict(["a wonderful , moving film", "a dull , lifeless mess"])
    assert (good["label"], bad["label"]) == ("positive", "negative")
    assert good["polarity"] > 0 > bad["polarity"]  # polarity lies in [-1, 1]
