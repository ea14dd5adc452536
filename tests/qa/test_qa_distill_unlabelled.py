"""A QA student distilled on unlabelled questions too (``distill.unlabelled``: JSONL
objects of a question and its context, as ``nlpkit predict`` reads them): their windows
train on the teacher's start and end distributions alone."""

from __future__ import annotations

import json
from pathlib import Path

import nlpkit
from tests.distill_helpers import transfer_recipe
from tests.qa.conftest import make_rows, train_tiny_qa


def test_a_qa_student_distils_on_unlabelled_questions(tmp_path: Path, tiny_model: Path) -> None:
    window = {"window_overlap": 8, "max_question_length": 12}  # windows of 48 tokens: several per context
    teacher = train_tiny_qa(tmp_path, tiny_model, 48, **window)  # its data: tmp_path/train.json, dev.json
    unlabelled = tmp_path / "more.jsonl"
    unlabelled.write_text("".join(json.dumps({"question": r["question"], "context": r["context"]}) + "\n"
                                  for r in make_rows(10, offset=30)))
    data = {"train": str(tmp_path / "train.json"), "validation": str(tmp_path / "dev.json"), **window}
    recipe = transfer_recipe("qa", tiny_model, data, teacher, unlabelled, tmp_path / "student", 48)
    run = nlpkit.run(recipe).run_dir
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training"]["examples"]["unlabelled"] == 10
    saved = [json.loads(line) for line in (run / "predictions" / "validation.jsonl").read_text().splitlines()]
    questions = [{"question": r["question"], "context": r["context"]} for r in make_rows(4, offset=16)]
    assert [p["answer"] for p in nlpkit.load(run).predict(questions)] == [s["answer"] for s in saved]
