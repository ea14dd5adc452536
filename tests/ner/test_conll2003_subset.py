"""Slow: the shipped CoNLL-2003 recipe trains the default encoder (MiniLM) on a subset of
the real data in ../shared/data and finds entities."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlpkit

from ..conftest import REPO, needs_data

pytestmark = [pytest.mark.slow, needs_data("conll2003"), pytest.mark.usefixtures("shared_data_env")]


def test_conll2003_subset_learns_entities(tmp_path: Path) -> None:
    # 1,000 sentences, one epoch (63 steps of 16): entity F1 0.44 on the first 300 sentences
    # of eng.testa and 0.59 on the first 300 of eng.testb (seed 42). A model that finds no
    # entities scores 0; one that mislabels types or boundaries (a tagging scheme or a
    # subword alignment gone wrong) scores far lower than this.
    result = nlpkit.run(REPO / "recipes" / "conll2003.yaml", [
        "data.limit_train=1000", "data.limit_validation=300", "data.limit_test=300",
        "train.epochs=1", "train.batch_size=16", "train.lr=1e-4", f"output.dir={tmp_path / 'run'}",
    ])
    assert result.metrics["training"]["optimizer_steps"] == 63
    assert result.metrics["validation"]["f1"] > 0.3
    assert result.metrics["test"]["f1"] > 0.4
    assert (result.run_dir / "predictions" / "test.conll").is_file()
