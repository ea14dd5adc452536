"""What ``nlpkit predict`` reads: a file or standard input, one input per line (a text,
or a JSON value in JSONL), unless the task recognises its own data format in it."""

from __future__ import annotations

import codecs
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from nlpkit.errors import DataError

STDIN = "-"
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
SNIFF_LINES = 50
"""The first lines that a task sees to recognise its data format (``Task.input_format``)."""
HEADER_NAMES = frozenset({"text", "sentence", "tokens", "words"})
"""A first line that is only one of these is a header, not a text to predict."""

BLANK_LINE = (
    "blank line: each line is one input and gets one output row; remove the line or give it a text "
    "(blank lines at the end of the file are ignored)"
)


@dataclass
class InputFile:
    """The lines of an input, without their ends, and where they come from."""

    name: str
    """The path, or ``<stdin>``: what messages name."""
    path: Path | None
    """None for standard input."""
    lines: list[str]
    undecodable: DataError | None = None
    """Where the bytes are not UTF-8 (the lines then hold replacement characters): an
    error for line-by-line inputs; a task's reader reads its own files in the run's
    ``data.encoding`` (TREC's Latin-1)."""

    @property
    def head(self) -> list[str]:
        return self.lines[:SNIFF_LINES]


def read_input(source: str | Path, stdin: BinaryIO | None = None) -> InputFile:
    """Read ``source`` (``-``: standard input, or ``stdin`` when given) as UTF-8 text
    (bytes that are not UTF-8 are kept as replacement characters, and reported by
    :func:`parse_lines`).
    Lines end at "\\n" only (a "\\r\\n" ending is stripped, a lone "\\r" stays in the
    text), so that line numbers are those of ``grep -n`` and output rows line up."""
    if str(source) == STDIN:
        name, path = "<stdin>", None
        raw = (stdin or sys.stdin.buffer).read()
    else:
        name, path = str(source), Path(source)
        raw = path.read_bytes()
    raw = raw.removeprefix(codecs.BOM_UTF8)
    problem = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", errors="replace")
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = DataError(
            name, line, f"not valid utf-8 text (byte 0x{raw[exc.start]:02x} at column {column}); inputs are read as "
            "UTF-8: convert the file (e.g. iconv -t utf-8)"
        )
    lines = text.split("\n")
    if lines[-1] == "":  # the end of the last line, not a line
        lines.pop()
    return InputFile(name, path, [line.removesuffix("\r") for line in lines], problem)


def is_jsonl(source: InputFile) -> bool:
    """JSONL: a .jsonl/.json/.ndjson file, or one whose first line is a JSON object or
    list (which no plain text is)."""
    if source.path is not None and source.path.suffix.lower() in JSON_SUFFIXES:
        return True
    first = next((line.strip() for line in source.lines if line.strip()), "")
    if not first.startswith(("{", "[")):
        return False
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return True


def parse_lines(source: InputFile, jsonl: bool) -> list[tuple[int, Any]]:
    """(line number, input), one per line: a JSON value per line, or the line's text.

    A blank line is refused, except at the end (editors add them): skipping it would
    shift every later row. A plain-text first line that is only a column name
    (:data:`HEADER_NAMES`) is refused: it is a header, not a text to predict."""
    if source.undecodable is not None:
        raise source.undecodable
    inputs: list[tuple[int, Any]] = []
    blank: int | None = None  # the first blank line after the last input
    for number, text in enumerate(source.lines, start=1):
        if not text.strip():
            blank = blank or number
            continue
        if blank is not None:
            raise DataError(source.name, blank, BLANK_LINE)
        inputs.append((number, _parse_json(source.name, number, text) if jsonl else text))
    if not inputs:
        raise DataError(source.name, None, "no inputs: the file is empty or holds only blank lines")
    first_line, first = inputs[0]
    if not jsonl and first.strip().lower() in HEADER_NAMES:
        raise DataError(
            source.name, first_line,
            f"{first.strip()!r} is a header, not a text: plain-text inputs are one text per line, without a header; "
            "remove the line",
        )
    return inputs


def _parse_json(name: str, number: int, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(name, number, f"not valid JSON: {exc.msg}") from None
