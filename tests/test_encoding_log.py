"""The core encodes a split in chunks; a task's per-chunk counts reach the log once."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import pytest

from nlpkit import data
from nlpkit.task import Counts


class CountingTask:
    """Counts, per call, what the built-in tasks count ("N of M texts ...") and logs one
    plain warning itself."""

    def encode(self, examples: Sequence[Any], tokenizer: Any, *, training: bool, counts: Counts) -> list[dict[str, Any]]:
        cut = sum(1 for e in examples if e < 8 and e % 3 == 0)
        counts.add("texts reach encoder.max_length = 8 tokens", cut)  # a chunk with nothing cut adds 0
        counts.add("questions cut", len(examples), level=logging.INFO)
        logging.getLogger("nlpkit").warning("a plain note")
        return [{"example_id": i} for i in range(len(examples))]


def test_counts_of_the_chunks_are_summed_into_one_line(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(data, "ENCODE_CHUNK", 4)
    with caplog.at_level(logging.INFO, logger="nlpkit"):
        # Chunks 0-3, 4-7 and 8-11, the last with nothing cut: the total is still the split's.
        features = data.encode(CountingTask(), list(range(12)), None, training=True)  # type: ignore[arg-type]
    assert [f["example_id"] for f in features] == list(range(12))  # ids stay global
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert lines.count((logging.WARNING, "3 of 12 texts reach encoder.max_length = 8 tokens")) == 1  # 0, 3, 6
    assert lines.count((logging.INFO, "12 of 12 questions cut")) == 1
    assert not any(" of 4 " in line for _, line in lines)  # no per-chunk counts
    assert lines.count((logging.WARNING, "a plain note")) == 3  # what a task logs itself passes untouched
    # Nothing is held back: a later count is logged at once, as it is.
    logging.getLogger("nlpkit").warning("%d of %d later", 1, 2)
    assert caplog.records[-1].getMessage() == "1 of 2 later"


def test_a_splits_counts_name_the_split(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="nlpkit"):
        data.encode(CountingTask(), list(range(2000)), None, training=True, split="train")  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert "data.train: 3 of 2,000 texts reach encoder.max_length = 8 tokens" in lines
    assert "data.train: 2,000 of 2,000 questions cut" in lines
