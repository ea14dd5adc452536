"""``nlpkit serve`` of a pre-training run: a text is scored as ``nlpkit.load(run).predict``
scores it (masked-token loss and perplexity under the run's evaluation masks)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration  # trains a tiny run and serves it: seconds, not a unit test

import nlpkit  # noqa: E402
from tests.pretrain.conftest import corpus_texts  # noqa: E402
from tests.serve_helpers import serves_as_predicted  # noqa: E402


def test_texts_are_scored_as_predicted(tmp_path: Path, corpus_file: Path) -> None:
    run = nlpkit.run({
        "task": "pretrain",
        "encoder": {"init": "scratch", "train_tokenizer": True, "vocab_size": 200, "max_length": 48,
                    "config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}},
        "data": {"train": str(corpus_file), "validation_documents": 2, "cache": False},
        "head": {"objectives": ["mlm"]},
        "train": {"epochs": 1, "batch_size": 8, "lr": 3e-3, "precision": "32", "seed": 7},
        "trainer": {"enable_progress_bar": False},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }).run_dir
    texts = corpus_texts()[:3]
    answers = serves_as_predicted(run, [texts[0], {"text": texts[1]}, texts[2]])
    assert all(answer["perplexity"] > 1 and answer["masked"] > 0 for answer in answers), answers
