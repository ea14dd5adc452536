"""The classification recipes on the real data sets in ../shared/data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import nlpkit

from ..conftest import REPO, needs_data, recipe_splits

pytestmark = pytest.mark.usefixtures("shared_data_env")  # each test skips without its data set (needs_data)


@pytest.mark.slow  # reads a whole data set: seconds
@needs_data("sst2")
def test_sst2_recipe_reads_all_rows() -> None:
    _, task, splits = recipe_splits("sst2.yaml")
    assert len(splits["train"].examples) == 67349 and len(splits["validation"].examples) == 872
    assert {e.label for e in splits["train"].examples} == {"0", "1"}
    assert not splits["train"].examples[0].text.endswith(" ")  # SST-2's trailing space is stripped


@needs_data("trec")
def test_trec_recipe_reads_coarse_labels_and_holds_out_a_seeded_tenth() -> None:
    _, task, splits = recipe_splits("trec.yaml")
    train, validation = splits["train"].examples, splits["validation"].examples
    assert len(train) + len(validation) == 5452 and len(validation) == 545
    assert set(Counter(e.label for e in train)) == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}
    _, _, again = recipe_splits("trec.yaml")
    assert [e.text for e in again["validation"].examples] == [e.text for e in validation]


@needs_data("sst2")
@pytest.mark.slow
def test_sst2_subset_learns(tmp_path: Path) -> None:
    result = nlpkit.run(
        REPO / "recipes" / "sst2.yaml",
        ["data.limit_train=1000", "data.limit_validation=300", "train.epochs=1", f"output.dir={tmp_path / 'run'}"],
    )
    assert result.metrics["validation"]["accuracy"] > 0.7
    predictor = nlpkit.load(result.run_dir)
    assert predictor.predict("a wonderful , moving film")["label"] == "1"
