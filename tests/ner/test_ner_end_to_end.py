"""Train a tiny BERT on toy sentences through ``nlpkit.run``, then predict again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit_ner.scoring import score

from .conftest import toy_sentences, write_conll


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def ner_recipe(tmp_path: Path, ner_encoder: Path) -> dict:
    return {
        "task": "ner",
        "encoder": {"name": str(ner_encoder), "max_length": 10},  # some sentences need windows
        "data": {
            "train": str(write_conll(tmp_path / "train.txt", toy_sentences(40))),
            "validation": str(write_conll(tmp_path / "dev.txt", toy_sentences(10, offset=40))),
            "test": str(write_conll(tmp_path / "test.txt", toy_sentences(10, offset=50))),
            "window_overlap": 3,
        },
        "train": {"epochs": 8, "batch_size": 8, "lr": 3e-3, "precision": "32", "warmup_ratio": 0.0},
        "trainer": {"enable_progress_bar": False},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }


@pytest.mark.parametrize("crf", [False, True])
def test_train_evaluate_and_predict_again(ner_recipe: dict, crf: bool, tmp_path: Path) -> None:
    ner_recipe["head"] = {"crf": crf}
    result = nlpkit.run(ner_recipe)
    out = result.run_dir
    test = result.metrics["test"]
    assert test["f1"] >= 0.5, test  # the toy task is learnable
    assert set(test["per_type"]) <= {"PER", "LOC"}

    # conll file: word gold predicted, in the file's own scheme (IOB1); scoring it again
    # (as conlleval would) gives the run's F1.
    blocks = (out / "predictions/test.conll").read_text(encoding="utf-8").strip().split("\n\n")
    rows = [[line.split(" ") for line in block.splitlines()] for block in blocks]
    assert all(len(r) == 3 for block in rows for r in block)
    source = [line.split() for line in Path(ner_recipe["data"]["test"]).read_text().splitlines()[2:] if line]
    assert [(r[0], r[1]) for block in rows for r in block] == [(s[0], s[3]) for s in source]
    again = score([[r[1] for r in b] for b in rows], [[r[2] for r in b] for b in rows])
    assert again["f1"] == pytest.approx(test["f1"], abs=1e-9)

    # The saved model predicts exactly what was evaluated.
    saved = read_jsonl(out / "predictions/test.jsonl")
    predictor = nlpkit.load(out)
    predicted = predictor.predict([tuple(row["tokens"]) for row in saved])
    assert [p["tags"] for p in predicted] == [row["tags"] for row in saved]
    assert predictor.predict(tuple(saved[0]["tokens"]))["tags"] == saved[0]["tags"]

    # Raw text: entity spans with character offsets into the original string.
    text = "  Carol   Jones visited New York ."
    prediction = predictor.predict(text)
    assert prediction["text"] == text
    for entity in prediction["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert set(entity) == {"text", "label", "start", "end", "score"} and 0 <= entity["score"] <= 1

    # The command line: `nlpkit predict RUN --format conll` (no gold: `word predicted`).
    from nlpkit.cli import main

    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"tokens": ["Bob", "visited", "Rome"]}\n"Alice Smith lives in Paris ."\n', encoding="utf-8")
    cli = CliRunner().invoke(main, ["predict", str(out), "--input", str(inputs), "--format", "conll"])
    assert cli.exit_code == 0, cli.output
    blocks = cli.output.strip().split("\n\n")
    assert [line.split()[0] for line in blocks[0].splitlines()] == ["Bob", "visited", "Rome"]
    assert [line.split()[0] for line in blocks[1].splitlines()] == ["Alice", "Smith", "lives", "in", "Paris", "."]
    assert all(len(line.split()) == 2 for b in blocks for line in b.splitlines())


def test_a_malformed_data_file_stops_the_run_with_one_line_and_exit_code_2(ner_recipe: dict, tmp_path: Path) -> None:
    from nlpkit.cli import main

    bad = tmp_path / "bad.txt"
    bad.write_text("Bob\nvisited O\nRome I-LOC\n", encoding="utf-8")  # the first line lacks its tag
    ner_recipe["data"]["train"] = str(bad)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps(ner_recipe), encoding="utf-8")  # JSON is YAML
    result = CliRunner().invoke(main, ["run", str(recipe)])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == f"error: {bad}:1: expected 2 columns (as on line 2), found 1: 'Bob'"
    assert "Traceback" not in result.output
