"""``nlpkit serve`` of an extractive QA run: ``{"question", "context"}`` comes back as
``nlpkit.load(run).predict``'s answer, also when a long context runs as several windows."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration  # trains a tiny run and serves it: seconds, not a unit test

from tests.qa.conftest import make_rows, train_tiny_qa  # noqa: E402
from tests.serve_helpers import serves_as_predicted  # noqa: E402


def test_qa_answers_are_served_as_predicted(tmp_path: Path, tiny_model: Path) -> None:
    run = train_tiny_qa(tmp_path, tiny_model, 48, window_overlap=8, max_question_length=12)
    rows = make_rows(3, offset=20)
    inputs = [{"question": r["question"], "context": r["context"]} for r in rows]
    answers = serves_as_predicted(run, inputs)
    for row, answer in zip(rows, answers):
        assert answer["answer"] == row["context"][answer["start"]:answer["end"]]
