"""``nlpkit predict`` and ``predict()``: one output row per input line, each carrying its
line number; empty texts and blank lines refused by line; an unwritable --output refused
before the model loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.errors import InputError
from tests.conftest import train_tiny_classifier

EMPTY = "is empty or only whitespace: there is nothing to predict from (training refuses empty texts too)"
BLANK = (
    "blank line: each line is one input and gets one output row; remove the line or give it a text "
    "(blank lines at the end of the file are ignored)"
)


@pytest.fixture(scope="module")
def run_dir(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_classifier(tmp_path_factory.mktemp("alignment"), tiny_encoder)


def predict(*args: str):
    return CliRunner().invoke(main, ["predict", *args])


def rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_lines_split_on_newline_only_and_each_row_names_its_line(run_dir: Path, tmp_path: Path) -> None:
    texts = tmp_path / "in.txt"
    # A lone \r stays inside its line; \r\n ends a line; blank lines at the end are ignored.
    texts.write_bytes(b"i loved it\r\nawful\rand dull\nbad plot\n\n  \n")
    out = rows(predict(str(run_dir), "--input", str(texts)))
    assert [r["line"] for r in out] == [1, 2, 3]
    predictor = nlpkit.load(run_dir)
    expected = predictor.predict(["i loved it", "awful\rand dull", "bad plot"])
    assert [{k: v for k, v in r.items() if k != "line"} for r in out] == expected


def test_a_blank_line_before_the_last_input_is_refused_with_its_number(run_dir: Path, tmp_path: Path) -> None:
    texts = tmp_path / "in.txt"
    texts.write_text("i loved it\n\t \nawful and dull\n")
    result = predict(str(run_dir), "--input", str(texts))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"error: {texts}:2: {BLANK}\n"
    as_jsonl = tmp_path / "in.jsonl"
    as_jsonl.write_text('{"text": "good"}\n\n{"text": "bad"}\n\n')
    assert predict(str(run_dir), "--input", str(as_jsonl)).stderr == f"error: {as_jsonl}:2: {BLANK}\n"


def test_jsonl_rows_carry_the_line_and_the_inputs_id(run_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": "r7", "text": "i loved it"}\n"awful and dull"\n{"id": 3, "text": "bad plot"}\n')
    out = rows(predict(str(run_dir), "--input", str(inputs)))
    assert [(r["line"], r.get("id")) for r in out] == [(1, "r7"), (2, None), (3, 3)]
    assert list(out[0])[:2] == ["line", "id"]


def test_an_empty_text_in_a_jsonl_line_is_refused_with_its_line(run_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "fine"}\n{"id": "x", "text": "  "}\n')
    result = predict(str(run_dir), "--input", str(inputs))
    assert result.exit_code == 2
    assert result.stderr == f"error: {inputs}:2: 'text' {EMPTY}\n"
    inputs.write_text('"fine"\n""\n')
    assert predict(str(run_dir), "--input", str(inputs)).stderr == f"error: {inputs}:2: the text {EMPTY}\n"


def test_predict_refuses_empty_texts_everywhere(run_dir: Path) -> None:
    predictor = nlpkit.load(run_dir)
    with pytest.raises(InputError) as single:
        predictor.predict("")
    assert str(single.value) == f"the text {EMPTY}"
    with pytest.raises(InputError, match=r"^inputs\[1\]: the text is empty or only whitespace"):
        predictor.predict(["i loved it", " \n"])
    with pytest.raises(InputError, match=r"^text 2 of the tuple is empty"):
        predictor.predict(("a text", "\t"))
    with pytest.raises(InputError, match=r"^'text' is empty"):
        predictor.predict(text=" ")
    with pytest.raises(InputError, match=r"^inputs\[0\]: 'text' is empty"):
        predictor.predict([{"id": "", "text": ""}])
    assert predictor.predict({"id": "", "text": "i loved it"})["label"] in {"0", "1"}  # an empty id is fine


def test_an_output_that_cannot_be_written_is_refused_before_the_model_loads(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlpkit.predictor import Predictor

    texts = tmp_path / "in.txt"
    texts.write_text("i loved it\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with monkeypatch.context() as patched:
        patched.setattr(Predictor, "load", lambda *a: pytest.fail("the model was loaded"))
        for target in (blocker / "out.jsonl", blocker / "sub" / "out.jsonl"):
            result = predict(str(run_dir), "--input", str(texts), "--output", str(target))
            assert result.exit_code == 2
            expected = f"error: --output {target} cannot be written: {blocker} is a file, not a directory\n"
            assert result.stderr == expected
    # Missing folders are created, as before.
    target = tmp_path / "new" / "dir" / "out.jsonl"
    assert predict(str(run_dir), "--input", str(texts), "--output", str(target)).exit_code == 0
    assert [json.loads(line)["line"] for line in target.read_text().splitlines()] == [1]
