"""The core encodes a split in chunks; a task's per-chunk counts reach the log once."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import pytest

from nlpkit import data

# Plugins log through module-level loggers named nlpkit or nlpkit.* (the run's handlers
# sit on "nlpkit"), created at import, before any split is encoded.
qa_log = logging.getLogger("nlpkit.qa")


class CountingTask:
    """Logs, per call, a count in the usual "N of M" form and one plain warning."""

    def encode(self, examples: Sequence[Any], tokenizer: Any, training: bool) -> list[dict[str, Any]]:
        cut = sum(1 for e in examples if e < 8 and e % 3 == 0)
        if cut:  # like the built-in plugins: a chunk with nothing cut says nothing
            logging.getLogger("nlpkit").warning("%d of %d texts reach encoder.max_length = %d tokens", cut, len(examples), 8)
        qa_log.info("qa: %d of %d questions cut", len(examples), len(examples))
        logging.getLogger("nlpkit").warning("a plain note")
        return [{"example_id": i} for i in range(len(examples))]


def test_counts_logged_per_chunk_are_summed_into_one_line(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(data, "ENCODE_CHUNK", 4)
    with caplog.at_level(logging.INFO, logger="nlpkit"):
        # Chunks 0-3, 4-7 and 8-11, the last with nothing cut: the total is still the split's.
        features = data.encode(CountingTask(), list(range(12)), None, training=True)  # type: ignore[arg-type]
    assert [f["example_id"] for f in features] == list(range(12))  # ids stay global
    lines = [r.getMessage() for r in caplog.records]
    assert lines.count("3 of 12 texts reach encoder.max_length = 8 tokens") == 1  # 0, 3, 6
    assert lines.count("qa: 12 of 12 questions cut") == 1
    assert not any(" of 4 " in line for line in lines)  # no per-chunk counts
    assert lines.count("a plain note") == 3  # other records pass untouched
    # The hold is lifted afterwards: a later count is logged at once.
    logging.getLogger("nlpkit").warning("%d of %d later", 1, 2)
    assert caplog.records[-1].getMessage() == "1 of 2 later"
