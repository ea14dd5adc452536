"""Reading SQuAD v1.1/v2.0 JSON and JSONL; checking and repairing answer starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpkit.errors import DataError
from nlpkit_qa.readers import read_qa

CONTEXT = "Paris is the capital of France. Rome is the capital of Italy."


def write_squad(path: Path, qas: list[dict], version: str = "1.1") -> Path:
    path.write_text(json.dumps({"version": version, "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}))
    return path


def test_squad_v1_with_several_gold_answers(tmp_path: Path) -> None:
    path = write_squad(tmp_path / "d.json", [{
        "id": "a", "question": "Capital of France?",
        "answers": [{"text": "Paris", "answer_start": 0}, {"text": "Paris", "answer_start": 0}, {"text": "Rome", "answer_start": 32}],
    }])
    (example,), report = read_qa(path)
    assert example.id == "a" and not example.is_impossible
    assert [(a.text, a.start) for a in example.answers] == [("Paris", 0), ("Paris", 0), ("Rome", 32)]
    assert report.repaired == 0


def test_squad_v2_impossible_questions_have_no_answers(tmp_path: Path) -> None:
    path = write_squad(tmp_path / "d.json", [
        {"id": "x", "question": "Capital of Spain?", "answers": [], "is_impossible": True,
         "plausible_answers": [{"text": "Rome", "answer_start": 32}]},
        {"id": "y", "question": "Capital of Italy?", "answers": [{"text": "Rome", "answer_start": 32}], "is_impossible": False},
    ], version="v2.0")
    examples, _ = read_qa(path)
    assert [e.is_impossible for e in examples] == [True, False]
    assert examples[0].answers == []


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [
        {"id": 1, "question": "Capital of Italy?", "context": CONTEXT, "answers": {"text": ["Rome"], "answer_start": [32]}},
        {"id": 2, "question": "Capital of Spain?", "context": CONTEXT, "answers": {"text": [], "answer_start": []}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    examples, _ = read_qa(path)
    assert [e.id for e in examples] == ["1", "2"]
    assert examples[0].answers[0].text == "Rome" and examples[1].is_impossible


def test_misplaced_answer_start_is_repaired_when_unique(tmp_path: Path) -> None:
    path = write_squad(tmp_path / "d.json", [{"id": "a", "question": "?", "answers": [{"text": "Rome", "answer_start": 30}]}])
    (example,), report = read_qa(path)
    assert example.answers[0].start == 32 and report.repaired == 1


def test_misplaced_ambiguous_answer_is_reported_with_its_id(tmp_path: Path) -> None:
    path = write_squad(tmp_path / "d.json", [{"id": "q-17", "question": "?", "answers": [{"text": "capital", "answer_start": 3}]}])
    with pytest.raises(DataError, match=r"question q-17: answer_start 3 .*occurs 2 times"):
        read_qa(path)
    examples, report = read_qa(path, on_error="skip")
    assert examples == [] and report.skipped == 1


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    good = {"id": "a", "question": "q?", "context": CONTEXT, "answers": {"text": ["Rome"], "answer_start": [32]}}
    bad = {"id": "b", "question": "q?", "context": CONTEXT, "answers": {"text": ["Madrid"], "answer_start": [0]}}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError) as info:
        read_qa(path)
    assert info.value.line == 2 and "question b" in str(info.value) and "does not occur" in str(info.value)
