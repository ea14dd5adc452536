"""A SQuAD JSON file given to ``nlpkit predict`` for a QA model is read as SQuAD: one
prediction per question, with its id and gold answers, answered or not."""

from __future__ import annotations

import json
from pathlib import Path

from nlpkit.inputs import read_input
from nlpkit.predict_file import predict_input
from nlpkit.testing import untrained_predictor
from tests.qa.conftest import make_rows, squad_json


def test_a_squad_file_is_predicted_per_question(tiny_model: Path, tmp_path: Path) -> None:
    train = tmp_path / "train.json"
    train.write_text(json.dumps(squad_json(make_rows(4))))
    predictor = untrained_predictor({"task": "qa", "encoder": {"name": str(tiny_model)}, "data": {"train": str(train)}})
    questions = squad_json(make_rows(3, offset=2))
    questions["data"][0]["paragraphs"][2]["qas"][0]["answers"] = []  # a question to answer, without gold
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(questions, indent=2))  # over several lines, as SQuAD files are
    rows = [json.loads(line) for line in predict_input(predictor, read_input(path))]
    assert [row["id"] for row in rows] == ["q2", "q3", "q4"]
    assert [row["gold"] for row in rows] == [[r["answers"]["text"][0]] for r in make_rows(2, offset=2)] + [[]]
    assert all(isinstance(row["answer"], str) for row in rows)
    official = predict_input(predictor, read_input(path), fmt="squad")
    assert json.loads(official[0]) == {row["id"]: row["answer"] for row in rows}
