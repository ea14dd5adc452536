"""The command line: run, predict, evaluate, recipe show|check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nlpkit.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_recipe_show_prints_the_resolved_recipe(classification_recipe: dict, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe))
    result = invoke("recipe", "show", str(path), "train.epochs=5")
    assert result.exit_code == 0
    shown = yaml.safe_load(result.output)
    assert shown["train"]["epochs"] == 5 and shown["train"]["weight_decay"] == 0.01
    assert shown["head"]["pooling"] == "mean"
    assert invoke("recipe", "check", str(path)).output.startswith(f"{path}: ok")


def test_run_predict_and_evaluate(classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe))
    result = invoke("run", str(path))
    assert result.exit_code == 0
    run_dir = Path(classification_recipe["output"]["dir"])
    assert f"run directory: {run_dir}" in result.output

    texts = tmp_path / "texts.txt"
    texts.write_text("i loved it\nawful and dull\n")
    predicted = invoke("predict", str(run_dir), "--input", str(texts))
    rows = [json.loads(line) for line in predicted.output.splitlines()]
    assert [r["line"] for r in rows] == [1, 2] and all(set(r) == {"line", "label", "probabilities"} for r in rows)

    as_jsonl = tmp_path / "texts.jsonl"
    as_jsonl.write_text('{"text": "i loved it"}\n"awful and dull"\n')
    out_file = tmp_path / "out.jsonl"
    invoke("predict", str(run_dir), "--input", str(as_jsonl), "--output", str(out_file))
    assert [json.loads(l) for l in out_file.read_text().splitlines()] == rows

    # Ctrl-C while the output is written: exit code 130, one line, and the earlier file intact.
    from nlpkit.predictor import Predictor

    predict_examples = Predictor.predict_examples

    def interrupted_after_one(self, *args, **kwargs):
        yield predict_examples(self, *args, **kwargs)[0]
        raise KeyboardInterrupt

    monkeypatch.setattr(Predictor, "predict_examples", interrupted_after_one)
    stopped = CliRunner().invoke(main, ["predict", str(run_dir), "--input", str(texts), "--output", str(out_file)])
    assert stopped.exit_code == 130 and stopped.output == "stopped: interrupted (Ctrl-C)\n"
    assert [json.loads(l) for l in out_file.read_text().splitlines()] == rows
    assert [p.name for p in out_file.parent.iterdir() if "partial" in p.name] == []
    monkeypatch.undo()

    evaluated = invoke("evaluate", str(run_dir), "--data", classification_recipe["data"]["validation"])
    metrics = json.loads(evaluated.output)
    saved = json.loads((run_dir / "metrics.json").read_text())["validation"]
    assert metrics == saved


def test_errors_are_one_paragraph_with_exit_code_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["predict", str(tmp_path), "--input", __file__])
    assert result.exit_code == 2
    assert "is not a finished nlpkit run directory" in result.output


def test_bad_inputs_to_predict_and_evaluate_are_one_paragraph_with_file_and_line(
    classification_recipe: dict, tmp_path: Path
) -> None:
    path = tmp_path / "r.yaml"
    classification_recipe["train"]["epochs"] = 1
    path.write_text(yaml.safe_dump(classification_recipe))
    run = CliRunner().invoke(main, ["run", str(path)])
    assert run.exit_code == 0
    # Only the results on stdout (the progress bar draws on stderr): `nlpkit run > out` stays clean.
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == ["validation", "test", "run directory"]
    run_dir = classification_recipe["output"]["dir"]

    def fails(*args: str) -> str:
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.stderr.strip()

    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    assert fails("predict", run_dir, "--input", str(empty)) == (
        f"error: {empty}: no inputs: the file is empty or holds only blank lines"
    )
    latin = tmp_path / "latin.txt"
    latin.write_bytes("fine\nna\u00efve film\n".encode("latin-1"))
    assert fails("predict", run_dir, "--input", str(latin)).startswith(
        f"error: {latin}:2: not valid utf-8 text (byte 0xef at column 3); inputs are read as UTF-8"
    )
    wrong_key = tmp_path / "in.jsonl"
    wrong_key.write_text('{"text": "good"}\n{"txt": "bad"}\n')
    assert fails("predict", run_dir, "--input", str(wrong_key)).startswith(
        f"error: {wrong_key}:2: task classification predicts from texts"
    )

    header_only = tmp_path / "header.tsv"
    header_only.write_text("sentence\tlabel\n")
    assert fails("evaluate", run_dir, "--data", str(header_only)) == (
        f"error: {header_only}: no examples could be read for evaluation"
    )
    unseen = tmp_path / "unseen.tsv"
    unseen.write_text("sentence\tlabel\ngood film\tpositive\n")
    scored = CliRunner().invoke(main, ["evaluate", run_dir, "--data", str(unseen)])
    assert scored.exit_code == 0 and json.loads(scored.stdout)["accuracy"] == 0.0
    assert f"warning: {unseen}: 1 example(s) have labels unseen in training (positive; lines 2)" in scored.stderr

    assert "--predictions applies to run directories only" in fails(
        "evaluate", run_dir, "--recipe", str(path), "--predictions", str(tmp_path / "p.jsonl")
    )

    (Path(run_dir) / "model" / "head.safetensors").unlink()
    assert fails("predict", run_dir, "--input", str(wrong_key)) == (
        f"error: {run_dir} is incomplete: model/head.safetensors is missing; train the run again"
    )
