"""SQuAD v2.0 (unanswerable questions) is a recipe choice, data.squad_v2: never switched
on by the data. Without it an unanswerable question is a bad row that names its place."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

import nlpkit
from nlpkit.errors import DataError
from nlpkit.recipe import load_recipe
from nlpkit.task import TaskSettings
from nlpkit_qa.task import QATask

from .conftest import make_rows, squad_json
from .test_metric import SQUAD_DIR

HINT = "set data.squad_v2: true if the data holds questions without an answer (SQuAD v2.0)"


def with_unanswerable(rows: list[dict[str, Any]], **question: Any) -> dict[str, Any]:
    """SQuAD JSON whose second paragraph is empty and asks a question it cannot answer."""
    data = squad_json(rows)
    unanswerable = {"id": "empty-1", "question": "what is the capital of atlantis ?", "answers": [], **question}
    data["data"][0]["paragraphs"].insert(1, {"context": "", "qas": [unanswerable]})
    return data


def task(**data: Any) -> QATask:
    return QATask(TaskSettings.of(
        load_recipe({"task": "qa", "encoder": {"max_length": 48}, "data": {"max_question_length": 12, **data}})
    ))


@pytest.mark.parametrize(
    ("question", "why"), [({}, "no answers"), ({"is_impossible": True}, '"is_impossible": true')]
)
def test_an_unanswerable_question_in_v1_data_names_its_place(question: dict, why: str, tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps(with_unanswerable(make_rows(4), **question)))
    with pytest.raises(DataError) as info:
        task().read(path, "train")
    assert str(info.value) == (
        f"{path}: data[0].paragraphs[1].qas[0], question empty-1: an unanswerable question ({why}), but "
        f"data.squad_v2 is false (every question has an answer); {HINT}"
    )


def test_jsonl_names_the_line(tmp_path: Path) -> None:
    rows = make_rows(3)
    rows[1]["answers"] = {"text": [], "answer_start": []}
    path = tmp_path / "dev.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=rf"^{path}:2: question q1: an unanswerable question \(no answers\)"):
        task().read(path, "validation")
    assert [e.is_impossible for e in task(squad_v2=True).read(path, "validation")] == [False, True, False]


def qa_run(tiny_model: Path, tmp_path: Path, **data: Any) -> tuple[dict[str, Any], str]:
    train, dev = tmp_path / "train.json", tmp_path / "dev.json"
    train.write_text(json.dumps(with_unanswerable(make_rows(16))))
    dev.write_text(json.dumps(squad_json(make_rows(4, offset=1))))
    result = nlpkit.run({
        "task": "qa",
        "encoder": {"name": str(tiny_model), "max_length": 48},
        "data": {"train": str(train), "validation": str(dev), "window_overlap": 8, "max_question_length": 12,
                 "cache": False, **data},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "32"},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    })
    return result.metrics["validation"], (result.run_dir / "train.log").read_text(encoding="utf-8")


def test_skipped_unanswerable_questions_are_counted_and_scoring_stays_v1(tiny_model: Path, tmp_path: Path) -> None:
    metrics, log = qa_run(tiny_model, tmp_path, on_error="skip")
    assert set(metrics) == {"exact_match", "f1"}
    assert (
        "data.train: skipped 1 unanswerable questions (data.squad_v2 is false; data.on_error: skip), e.g. "
        f"{tmp_path / 'train.json'}: data[0].paragraphs[1].qas[0], question empty-1: an unanswerable question"
    ) in log
    assert "data.train: 16 examples" in log


def test_squad_v2_reads_them_and_scores_v2(tiny_model: Path, tmp_path: Path) -> None:
    metrics, log = qa_run(tiny_model, tmp_path, squad_v2=True)
    assert {"exact", "f1", "HasAns_f1", "best_f1_thresh"} <= set(metrics) and "exact_match" not in metrics
    assert "data.train: 17 examples" in log and "unanswerable" not in log


def test_recipes_saved_with_null_read_as_v1() -> None:
    assert task().squad_v2 is False and task(squad_v2=None).squad_v2 is False


@pytest.mark.slow  # reads a whole data set: seconds
@pytest.mark.skipif(not SQUAD_DIR.exists(), reason=f"no SQuAD data at {SQUAD_DIR}")
@pytest.mark.parametrize(
    ("name", "questions"), [("dev-v1.1.json", 10570), ("train-from-dev.json", 8582), ("eval-from-dev.json", 1988)]
)
def test_the_real_v1_files_read_every_question(name: str, questions: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPKIT_DATA", str(SQUAD_DIR.parent))
    recipe = load_recipe(Path(__file__).parents[2] / "recipes" / "squad.yaml")
    assert recipe.data.squad_v2 is False
    examples = QATask(TaskSettings.of(recipe)).read(SQUAD_DIR / name, "validation")
    assert len(examples) == questions and not any(e.is_impossible for e in examples)
