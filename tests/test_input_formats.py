"""How ``nlpkit predict`` tells a task's own data files (CoNLL, SQuAD JSON, labelled
tables) from inputs of one text or JSON value per line, by content."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from nlpkit.errors import DataError
from nlpkit.inputs import InputFile, is_jsonl, parse_lines, read_input
from nlpkit_classification.tables import table_format
from nlpkit_ner.readers import looks_like_conll
from nlpkit_qa.readers import looks_like_squad

TEXTS = [
    "a gripping , beautifully acted film",
    "the plot is a mess , the jokes fall flat , and it drags",
    "Big O",
]
CONLL = ["-DOCSTART- -X- O O", "", "EU NNP I-NP I-ORG", "rejects VBZ I-VP O", "", "Peter NNP I-NP I-PER"]


def data(fmt: str = "auto", delimiter: str | None = None, label_column: int | str | None = None) -> SimpleNamespace:
    return SimpleNamespace(format=fmt, delimiter=delimiter, label_column=label_column)


def sst2_label(cell: str) -> bool:
    return cell.strip() in {"0", "1"}


def table(lines: list[str], **options: object) -> str | None:
    return table_format(lines, data(**options), ("sentence", "text", "label"), sst2_label)  # type: ignore[arg-type]


def test_conll_columns_are_recognised_with_or_without_docstart_and_texts_are_not() -> None:
    assert looks_like_conll(CONLL)
    assert looks_like_conll(CONLL[2:])  # no -DOCSTART-: word lines whose last column is a tag
    assert looks_like_conll(["Peking B-LOC", "is O", "big O"])  # People's Daily: two columns
    assert looks_like_conll(["EU|I-ORG", "rejects|O"], separator="|")
    assert not looks_like_conll(TEXTS)
    assert not looks_like_conll(["Big O"])  # one line ending in "O" is a text
    assert not looks_like_conll(["Big O", "Little O man"])  # columns must line up
    assert not looks_like_conll(["EU NNP I-NP I-ORG", "rejects VBZ I-VP O"], tag_column=1)  # the run's tag column
    assert not looks_like_conll(["EU", "rejects"])  # a word per line, no tags: not NER data


def test_squad_json_is_recognised_and_jsonl_questions_are_not() -> None:
    assert looks_like_squad(["{", '  "version": "1.1",', '  "data": ['])
    assert looks_like_squad([json.dumps({"version": "1.1", "data": []})])
    assert not looks_like_squad([json.dumps({"question": "who?", "context": "me"})])
    assert not looks_like_squad(TEXTS)


def test_labelled_tables_are_recognised_and_texts_with_commas_are_not() -> None:
    assert table(["sentence\tlabel", "a great film\t1"]) == "TSV rows with a header"
    assert table(["sentence,label", "a great film,1"]) == "CSV rows with a header"
    assert table(["sentence"]) == "TSV rows with a header"  # a header alone is still a header
    assert table(["a great film\t1", "awful\t0"]) == "TSV rows"  # texts hold no tabs
    assert table(["1,a great film", "0,awful"]) == "CSV rows"  # a label the model knows in column 0
    assert table(["a great film,1", "awful,0"], label_column=1) == "CSV rows"
    assert table(TEXTS) is None
    assert table(["so , so", "well , well"]) is None  # commas line up, but no labels
    assert table(["a great film\t1"], fmt="jsonl") is None  # JSONL data: JSON rows are the core's


def test_labelled_lines_are_recognised_by_their_label() -> None:
    trec = ["DESC How did serfdom develop ?", "ENTY What films featured the character Popeye ?"]
    known = {"DESC", "ENTY", "HUM"}

    def lines(rows: list[str]) -> str | None:
        return table_format(rows, data("lines"), ("text", "label"), lambda cell: cell in known)  # type: ignore[arg-type]

    assert lines(trec) == "labelled lines (data.format: lines)"
    assert lines(["How did serfdom develop ?"]) is None


def test_input_lines_end_at_newline_and_jsonl_is_told_by_content(tmp_path: Path) -> None:
    source = read_input("-", io.BytesIO(b"\xef\xbb\xbfone\r\ntwo\rstill two\n\n"))
    assert (source.name, source.path, source.lines) == ("<stdin>", None, ["one", "two\rstill two", ""])
    assert not is_jsonl(source)
    assert is_jsonl(read_input("-", io.BytesIO(b'{"text": "a"}\n')))
    assert is_jsonl(read_input("-", io.BytesIO(b'["first text", "second text"]\n')))
    assert not is_jsonl(read_input("-", io.BytesIO(b"[music] a fine film\n")))
    strings = tmp_path / "in.jsonl"
    strings.write_text('"a quoted text"\n')
    assert is_jsonl(read_input(strings))
    assert parse_lines(read_input(strings), jsonl=True) == [(1, "a quoted text")]


def test_undecodable_input_is_refused_by_line_but_left_to_a_tasks_reader() -> None:
    source = read_input("-", io.BytesIO("DESC na\u00efve ?\nHUM who ?\n".encode("latin-1")))
    assert source.head == ["DESC na\ufffdve ?", "HUM who ?"]  # enough to tell TREC's labelled lines
    with pytest.raises(DataError, match=r"^<stdin>:1: not valid utf-8 text \(byte 0xef at column 8\)"):
        parse_lines(source, jsonl=False)


def test_a_plain_text_header_is_refused_not_predicted() -> None:
    with pytest.raises(DataError, match=r"^in.txt:1: 'text' is a header, not a text"):
        parse_lines(InputFile("in.txt", None, ["text", "a great film"]), jsonl=False)
    assert parse_lines(InputFile("in.txt", None, ["the text", "a great film"]), jsonl=False)[0] == (1, "the text")
