"""Reading labelled texts from TSV/CSV (with or without header), JSONL and plain lines.

Every record keeps its file and line so that a bad row is reported where it is.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from nlpkit.errors import DataError

Format = Literal["auto", "tsv", "csv", "jsonl", "lines"]
Column = str | int


@dataclass
class Record:
    """One row: its values by column name (or index as text) and where it came from."""

    line: int
    values: dict[str, Any]


def detect_format(path: Path, fmt: Format) -> Format:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    return "tsv"


def read_records(
    path: Path,
    fmt: Format = "auto",
    *,
    columns: Sequence[Column] = (),
    header: bool | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8-sig",
) -> Iterator[Record]:
    """Yield the rows of ``path``. For delimited files ``header=None`` means: the first
    row is a header if it names one of ``columns``; without a header, columns are
    addressed by index (``"0"``, ``"1"``…). ``lines`` splits each line once on
    ``delimiter`` (default: a space), e.g. TREC's ``LABEL question``."""
    fmt = detect_format(path, fmt)
    with path.open(encoding=encoding, newline="") as handle:
        if fmt == "jsonl":
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise DataError(path, number, f"not valid JSON: {exc.msg}") from None
                if not isinstance(value, dict):
                    raise DataError(path, number, f"expected a JSON object per line, got {type(value).__name__}")
                yield Record(number, value)
            return
        if fmt == "lines":
            sep = delimiter or " "
            for number, text in enumerate(handle, start=1):
                text = text.rstrip("\r\n")
                if not text.strip():
                    continue
                parts = text.split(sep, 1)
                yield Record(number, {str(i): p for i, p in enumerate(parts)})
            return
        sep = delimiter or ("\t" if fmt == "tsv" else ",")
        quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
        reader = csv.reader(handle, delimiter=sep, quoting=quoting)
        names: list[str] | None = None
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if names is None and header is not False:
                named = {str(c) for c in columns if isinstance(c, str)}
                if header or (named & {cell.strip() for cell in row}):
                    names = [cell.strip() for cell in row]
                    continue
                header = False
            if names is not None:
                if len(row) != len(names):
                    raise DataError(path, number, f"expected {len(names)} columns ({', '.join(names)}), found {len(row)}")
                yield Record(number, dict(zip(names, row)))
            else:
                yield Record(number, {str(i): cell for i, cell in enumerate(row)})


def pick(record: Record, column: Column, path: Path, what: str) -> Any:
    """The value of ``column`` in ``record``; a missing column names file and line."""
    key = str(column)
    if key not in record.values:
        known = ", ".join(record.values) or "none"
        raise DataError(path, record.line, f"no {what} column {column!r} (columns: {known})")
    return record.values[key]
