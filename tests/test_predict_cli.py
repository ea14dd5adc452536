"""``nlpkit predict`` for scripts: standard input, --batch-size, --keep, JSONL ids, a
labelled table read as a table, and a model that loads without transformers' warnings."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.errors import RunDirError
from tests.conftest import train_tiny_classifier

TEXTS = ["i loved it", "awful and dull", "a great fun movie", "bad plot , bad actors", "truly good fun"]


@pytest.fixture(scope="module")
def run_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_classifier(tmp_path_factory.mktemp("predict-cli"), tiny_encoder)


@pytest.fixture(scope="module")
def predictor(run_dir: Path):
    return nlpkit.load(run_dir)


def predict(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["predict", *args], input=stdin)


def rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def without(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


def test_standard_input_gives_one_row_per_line_in_order(run_dir: Path, predictor) -> None:
    out = rows(predict(str(run_dir), "--input", "-", stdin="\n".join(TEXTS) + "\n"))
    assert [r["line"] for r in out] == [1, 2, 3, 4, 5]
    assert [without(r, "line") for r in out] == predictor.predict(TEXTS)


def test_the_batch_size_changes_no_prediction(run_dir: Path, predictor, tmp_path: Path) -> None:
    texts = tmp_path / "in.txt"
    texts.write_text("\n".join(TEXTS * 3) + "\n")
    default, one = (rows(predict(str(run_dir), "--input", str(texts), *extra)) for extra in ((), ("--batch-size", "1")))
    assert [r["label"] for r in one] == [r["label"] for r in default]
    for a, b in zip(one, default):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)
    by_two = predictor.predict(TEXTS, batch_size=2)
    assert [p["label"] for p in by_two] == [p["label"] for p in predictor.predict(TEXTS)]
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        predictor.predict(TEXTS, batch_size=0)
    refused = predict(str(run_dir), "--input", str(texts), "--batch-size", "0")
    assert refused.exit_code == 2 and "--batch-size" in refused.stderr


def test_jsonl_ids_and_kept_fields_come_back_in_each_row(run_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(
        '{"id": "r1", "text": "i loved it", "source": "web", "stars": 5}\n'
        '{"id": 2, "text": "awful and dull"}\n'
        '"bad plot , bad actors"\n'
    )
    out = rows(predict(str(run_dir), "--input", str(inputs), "--keep", "source,stars", "--keep", "text"))
    assert [list(r)[:5] for r in out] == [
        ["line", "id", "source", "stars", "text"], ["line", "id", "text", "label", "probabilities"],
        ["line", "text", "label", "probabilities"],
    ]
    assert (out[0]["id"], out[0]["source"], out[0]["stars"], out[1]["id"]) == ("r1", "web", 5, 2)
    assert out[2]["text"] == "bad plot , bad actors"  # a plain JSON string is the text
    plain = rows(predict(str(run_dir), "--input", "-", "--keep", "text", stdin="i loved it\n"))
    assert plain[0]["text"] == "i loved it"

    inputs.write_text('{"text": "i loved it", "label": "1"}\n')
    clash = predict(str(run_dir), "--input", str(inputs), "--keep", "label")
    assert clash.exit_code == 2
    assert clash.stderr.startswith("error: --keep label: the prediction has a field 'label' of its own")


def test_a_labelled_table_is_read_as_one_not_line_by_line(run_dir: Path, predictor, tmp_path: Path) -> None:
    table = tmp_path / "dev.tsv"
    table.write_text("sentence\tlabel\ni loved it\t1\nawful and dull\t0\n")
    result = predict(str(run_dir), "--input", str(table))
    out = rows(result)
    assert [(r["text"], r["gold"]) for r in out] == [("i loved it", "1"), ("awful and dull", "0")]
    assert [without(r, "text", "gold") for r in out] == predictor.predict(["i loved it", "awful and dull"])
    assert f"{table}: TSV rows with a header, the task's data format: 2 examples" in result.stderr

    texts_with_header = tmp_path / "texts.txt"  # a one-column table: its header is no input
    texts_with_header.write_text("sentence\ni loved it\n")
    assert [r["text"] for r in rows(predict(str(run_dir), "--input", str(texts_with_header)))] == ["i loved it"]

    piped = predict(str(run_dir), "--input", "-", stdin=table.read_text())
    assert piped.exit_code == 2 and piped.stdout == ""
    assert piped.stderr == (
        "error: <stdin> holds TSV rows with a header, the task's data format: give it as a file, nlpkit predict RUN "
        "--input FILE (nlpkit evaluate RUN --data FILE scores a labelled file)\n"
    )
    table.write_text("sentence\tlabel\ni loved it\t1\n \t0\n")
    empty = predict(str(run_dir), "--input", str(table))
    assert empty.exit_code == 2 and empty.stderr == f"error: {table}:3: empty text (column 'sentence')\n"


def test_loading_logs_nothing_and_a_missing_encoder_tensor_is_an_error(
    run_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from safetensors.torch import load_file, save_file

    with caplog.at_level(logging.INFO):
        nlpkit.load(run_dir)  # its model/ has no pooler: the head pools by mean
    assert [r for r in caplog.records if r.name.startswith("transformers")] == []

    damaged = tmp_path / "run"
    shutil.copytree(run_dir, damaged)
    weights = damaged / "model" / "model.safetensors"
    tensors = load_file(weights)
    del tensors["encoder.layer.1.output.dense.weight"]
    save_file(tensors, weights, metadata={"format": "pt"})
    with pytest.raises(RunDirError, match=r"model: the saved encoder lacks tensors encoder\.layer\.1\.output\.dense\.weight"):
        nlpkit.load(damaged)
