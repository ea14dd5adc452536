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


def test_broken_squad_json_names_the_line_of_the_error(tmp_path: Path) -> None:
    # Before: read as JSONL, reported at line 1 ("Expecting property name ...").
    path = tmp_path / "d.json"
    path.write_text(
        '{"version": "1.1", "data": [{"title": "t", "paragraphs": [{\n'
        f'  "context": "{CONTEXT}",\n'
        '  "qas": [{"id": "a", "question": "q?",\n'
        '           "answers": [{"text": "Rome" "answer_start": 32}]}]\n'  # a comma left out
        "}]}]}\n"
    )
    with pytest.raises(DataError) as info:
        read_qa(path)
    assert str(info.value) == f"{path}:4: not valid JSON: Expecting ',' delimiter (column 40)"


def _squad(qas: list | None = None, **paragraph) -> dict:
    qas = qas if qas is not None else [{"id": "a", "question": "q?", "answers": [{"text": "Rome", "answer_start": 32}]}]
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas, **paragraph}]}]}


@pytest.mark.parametrize(
    "document, message",
    [
        ({"data": [{"title": "t", "paragraphs": "oops"}]},
         "data[0].paragraphs: expected a list of {context, qas} objects, got a string"),
        ({"data": [{"title": "t", "paragraphs": 3}]},
         "data[0].paragraphs: expected a list of {context, qas} objects, got a number"),
        ({"data": [{"title": "t", "paragraph": []}]}, "data[0]: no 'paragraphs' key (keys: 'title', 'paragraph')"),
        ({"data": [[{"title": "t"}]]}, "data[0]: expected an article object with 'paragraphs', got a list"),
        ({"data": [{"paragraphs": [{"qas": []}]}]}, "data[0].paragraphs[0]: no 'context' key (keys: 'qas')"),
        (_squad(qas={"id": "a"}), "data[0].paragraphs[0].qas: expected a list of questions, got an object"),
        (_squad(qas=["Capital of Italy?"]),
         "data[0].paragraphs[0].qas[0]: expected a question object {id, question, answers}, got a string"),
        (_squad(qas=[{"id": "a", "answers": []}]), "data[0].paragraphs[0].qas[0]: no 'question' key (keys: 'id', 'answers')"),
        (_squad(qas=[{"id": "a", "question": "q?", "answers": {"text": "Rome", "answer_start": 32}}]),
         "data[0].paragraphs[0].qas[0].answers: expected a list of {text, answer_start} objects, got an object"),
        (_squad(qas=[{"id": "a", "question": "q?", "answers": ["Rome"]}]),
         "data[0].paragraphs[0].qas[0].answers: expected a list of {text, answer_start} objects, got a list holding a string"),
        (_squad(qas=[{"id": "a", "question": "q?", "answers": [{"text": "Madrid", "answer_start": 32}]}]),
         "data[0].paragraphs[0].qas[0], question a: answer_start 32 does not point at the answer 'Madrid', "
         "which does not occur in the context"),
        ({"version": "1.1"}, "a SQuAD JSON file is an object with a 'data' list of articles, got no 'data' key (keys: 'version')"),
    ],
)
def test_malformed_squad_json_names_the_json_path(tmp_path: Path, document: dict, message: str) -> None:
    # Before: a number for 'paragraphs' was a TypeError traceback, and answers that were
    # not {text, answer_start} objects were dropped, making the question unanswerable.
    path = tmp_path / "d.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError) as info:
        read_qa(path)
    assert str(info.value) == f"{path}: {message}"


def test_on_error_skip_drops_a_malformed_paragraph_or_question(tmp_path: Path) -> None:
    good = {"id": "g", "question": "Capital of Italy?", "answers": [{"text": "Rome", "answer_start": 32}]}
    document = _squad([good, {"id": "b", "question": "q?", "answers": "Rome"}])
    document["data"][0]["paragraphs"].append({"qas": [{"id": "c", "question": "q?"}]})  # no context
    path = tmp_path / "d.json"
    path.write_text(json.dumps(document))
    examples, report = read_qa(path, on_error="skip")
    assert [e.id for e in examples] == ["g"] and report.skipped == 2
    assert report.problems == [
        f"{path}: data[0].paragraphs[0].qas[1].answers: expected a list of {{text, answer_start}} objects, got a string",
        f"{path}: data[0].paragraphs[1]: no 'context' key (keys: 'qas')",
    ]


@pytest.mark.parametrize(
    "answers, message",
    [
        (["Rome"], "'answers' must be {'text': [...], 'answer_start': [...]} or a list of {'text': ..., "
                   "'answer_start': ...}, got a list ['Rome']"),
        ({"text": ["Rome"], "answer_start": 32}, "'answers' must be {'text': [...], 'answer_start': [...]} or a list "
                                                 "of {'text': ..., 'answer_start': ...}; its 'answer_start' is a number 32, not a list"),
        (0, "'answers' must be {'text': [...], 'answer_start': [...]} or a list of {'text': ..., 'answer_start': ...}, "
            "got a number 0"),
    ],
)
def test_jsonl_answers_of_the_wrong_shape(tmp_path: Path, answers, message: str) -> None:
    # Before: AttributeError / TypeError tracebacks, or (0) an unanswerable question.
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q?", "context": CONTEXT, "answers": answers}) + "\n")
    with pytest.raises(DataError) as info:
        read_qa(path)
    assert str(info.value) == f"{path}:1: question a: {message}"


def test_jsonl_row_without_context_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q?", "contxt": CONTEXT}) + "\n")
    with pytest.raises(DataError) as info:
        read_qa(path)
    assert str(info.value) == f"{path}:1: question a: no 'context' key (keys: 'id', 'question', 'contxt')"


def test_a_negative_answer_start_is_not_read_from_the_end(tmp_path: Path) -> None:
    # context[-29:-25] is "Rome" too: a negative start would have been kept as such.
    path = write_squad(tmp_path / "d.json", [{"id": "a", "question": "?", "answers": [{"text": "Rome", "answer_start": -29}]}])
    (example,), report = read_qa(path)
    assert example.answers[0].start == 32 and report.repaired == 1


def test_a_malformed_file_stops_the_run_with_one_line_and_exit_code_2(tmp_path: Path, tiny_model: Path) -> None:
    from click.testing import CliRunner

    from nlpkit.cli import main

    bad = tmp_path / "train.json"
    bad.write_text(json.dumps({"data": [{"title": "t", "paragraphs": 3}]}))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"task": "qa", "encoder": {"name": str(tiny_model)}, "data": {"train": str(bad)},
                                  "output": {"dir": str(tmp_path / "run"), "report": False}}))
    result = CliRunner().invoke(main, ["run", str(recipe)])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"error: {bad}: data[0].paragraphs: expected a list of {{context, qas}} objects, got a number"
    )
    assert "Traceback" not in result.output
