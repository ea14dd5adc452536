"""A tiny run through ``nlpkit.run``; ``nlpkit.load(...).predict`` reproduces it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlpkit

from . import official_squad_v1


@pytest.fixture(scope="module")
def run_dir(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import make_rows, squad_json

    root = tmp_path_factory.mktemp("qa-run")
    train, dev = root / "train.json", root / "dev.json"
    train.write_text(json.dumps(squad_json(make_rows(24))))
    dev.write_text(json.dumps(squad_json(make_rows(8, offset=1))))
    recipe = {
        "task": "qa",
        "encoder": {"name": str(tiny_model), "max_length": 48},
        "data": {"train": str(train), "validation": str(dev), "window_overlap": 8, "max_question_length": 12, "cache": False},
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "precision": "32"},
        "trainer": {"enable_progress_bar": False, "log_every_n_steps": 1},
        "output": {"dir": str(root / "run"), "report": False},
    }
    result = nlpkit.run(recipe)
    assert 0 <= result.metrics["validation"]["f1"] <= 100
    return result.run_dir


def test_run_writes_jsonl_and_official_predictions(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())["validation"]
    official = official_squad_v1.main(run_dir.parent / "dev.json", run_dir / "predictions" / "validation.json")
    assert metrics["exact_match"] == pytest.approx(official["exact_match"])
    assert metrics["f1"] == pytest.approx(official["f1"])
    lines = (run_dir / "predictions" / "validation.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert len(lines) == 8 and {"id", "question", "answer", "start", "end", "score", "gold"} <= set(first)


def test_load_predict_reproduces_the_run(run_dir: Path) -> None:
    from .conftest import make_rows

    predictor = nlpkit.load(run_dir)
    rows = make_rows(8, offset=1)
    saved = [json.loads(line) for line in (run_dir / "predictions" / "validation.jsonl").read_text().splitlines()]
    again = predictor.predict([{"id": r["id"], "question": r["question"], "context": r["context"]} for r in rows])
    for old, new in zip(saved, again):
        assert (new["id"], new["answer"], new["start"], new["end"]) == (old["id"], old["answer"], old["start"], old["end"])
        assert new["score"] == pytest.approx(old["score"], abs=1e-4)
    one = predictor.predict(question=rows[0]["question"], context=rows[0]["context"])
    assert one["answer"] == saved[0]["answer"]
    pair = predictor.predict([(rows[1]["question"], rows[1]["context"])])
    assert pair[0]["answer"] == saved[1]["answer"]
    assert rows[0]["context"][one["start"] : one["end"]] == one["answer"]


def test_long_context_predicts_with_many_windows(run_dir: Path) -> None:
    from .conftest import FILLER

    predictor = nlpkit.load(run_dir)
    words = (FILLER + " the capital of peru is lima . ").split()
    context = " ".join(words[i % len(words)] for i in range(5000))
    result = predictor.predict(question="what is the capital of peru ?", context=context)
    assert context[result["start"] : result["end"]] == result["answer"] != ""
    predictor.task.settings.head.return_n_best = True
    result = predictor.predict(question="what is the capital of peru ?", context=context)
    assert len(result["n_best"]) == 20


def test_cli_predict_on_jsonl(run_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nlpkit.cli import main

    from .conftest import make_rows

    rows = make_rows(3, offset=1)
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps({"id": r["id"], "question": r["question"], "context": r["context"]}) for r in rows))
    saved = [json.loads(line) for line in (run_dir / "predictions" / "validation.jsonl").read_text().splitlines()]
    result = CliRunner().invoke(main, ["predict", str(run_dir), "--input", str(questions)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [p["answer"] for p in lines] == [p["answer"] for p in saved[:3]]
    result = CliRunner().invoke(main, ["predict", str(run_dir), "--input", str(questions), "--format", "squad"])
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {p["id"]: p["answer"] for p in saved[:3]}
