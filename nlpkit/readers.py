"""Reading rows of labelled data for task plugins: TSV/CSV (with or without header),
JSONL and plain lines, one :class:`Record` per row.

For plugin authors: a task's ``read`` typically calls :func:`read_examples` with a
function that turns one record into an example, picking columns with
:func:`find_column` and :func:`pick` and raising :class:`BadRow` for a row that cannot
become an example. Every record keeps its line so that a bad row is reported where it
is, and ``data.on_error: skip`` skips and counts bad rows instead of stopping.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Protocol, Sequence, TypeVar

from nlpkit.columns import rename_columns
from nlpkit.errors import DataError, RowErrors
from nlpkit.jsonl import json_objects

T = TypeVar("T")

Format = Literal["auto", "tsv", "csv", "jsonl", "lines"]
Column = str | int

MAX_FIELD_CHARS = 10_000_000
"""The longest field of a TSV/CSV row that is read. Python's csv module stops at 131,072
characters, which a long document (a report, a book chapter) can exceed; its head is
still a good input, so such texts are read. Nothing a model sees lies 10 million
characters in: a longer field is a file read with the wrong format or delimiter (or an
open quote), and its row is a bad row."""
_CSV_LIMIT = min(sys.maxsize, 2**31 - 1)  # the parser never stops mid-row: rows end where they end


class BadRow(Exception):
    """A row that cannot become an example; the message names the column. Raised inside
    :func:`read_examples`' conversion, it is reported with file and line (or skipped and
    counted with ``data.on_error: skip``)."""


class TableOptions(Protocol):
    """The data keys that :func:`read_examples` reads (a task's ``data`` section)."""

    format: Any
    header: bool | None
    delimiter: str | None
    encoding: str
    on_error: str
    columns: dict[str, str]


@dataclass
class Record:
    """One row: its values by column name (or index as text) and where it came from."""

    line: int
    """The line the row starts on; in a table (:mod:`nlpkit.tabular`), the row's index."""
    values: dict[str, Any]
    kind: Literal["column", "key"] = "column"
    """What a value is addressed by, for messages: a JSON object's "key", else a "column"."""
    indexed: bool = False
    """A row without header: its columns are addressed by index ("0", "1"…)."""


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
    errors: RowErrors | None = None,
) -> Iterator[Record]:
    """Yield the rows of ``path``. For delimited files ``header=None`` means: the first
    row is a header if it names one of ``columns``; without a header, columns are
    addressed by index (``"0"``, ``"1"``…). ``lines`` splits each line once on
    ``delimiter`` (default: a space), e.g. TREC's ``LABEL question``.

    Malformed rows (not JSON, a column count unlike the header's or, without a header,
    unlike most rows of the file, a field longer than :data:`MAX_FIELD_CHARS`) go to
    ``errors``: raised, or skipped and counted (default: raised). A broken CSV quote
    stops the reading in either case: where the next row begins is unknown."""
    fmt = detect_format(path, fmt)
    if errors is None:
        errors = RowErrors(path)
    if fmt not in ("jsonl", "lines"):
        yield from _delimited(path, fmt, columns, header, delimiter, encoding, errors)
        return
    with path.open(encoding=encoding, newline="") as handle:
        if fmt == "jsonl":
            for number, value in json_objects(handle, errors):
                yield Record(number, value, kind="key")
            return
        # lines: the text after the first delimiter may hold more delimiters (maxsplit 1),
        # so a line has no column count to check.
        sep = delimiter or " "
        for number, text in enumerate(handle, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            parts = text.split(sep, 1)
            yield Record(number, {str(i): p for i, p in enumerate(parts)}, indexed=True)


def _delimited(
    path: Path,
    fmt: Format,
    columns: Sequence[Column],
    header: bool | None,
    delimiter: str | None,
    encoding: str,
    errors: RowErrors,
) -> Iterator[Record]:
    rows = list(_rows(path, fmt, delimiter, encoding, errors))
    if not rows:
        return
    named = {str(c) for c in columns if isinstance(c, str)}
    first = [cell.strip() for cell in rows[0][1]]
    if header or (header is None and named & set(first)):
        names = first
        for number, row in rows[1:]:
            if len(row) != len(names):
                errors.add(number, f"expected {len(names)} columns ({', '.join(names)}), found {len(row)}")
                continue
            yield Record(number, dict(zip(names, row)))
        return
    # No header: the rows' usual width stands in for it (ties: the earliest row's), so a
    # row with a tab inside its text, or a cell too few, is not read with shifted or
    # dropped columns.
    width = Counter(len(row) for _, row in rows).most_common(1)[0][0]
    for number, row in rows:
        if len(row) != width:
            errors.add(number, f"expected {width} columns (as on most rows of this file), found {len(row)}")
            continue
        yield Record(number, {str(i): cell for i, cell in enumerate(row)}, indexed=True)


def _rows(
    path: Path, fmt: Format, delimiter: str | None, encoding: str, errors: RowErrors
) -> Iterator[tuple[int, list[str]]]:
    """The non-blank rows of a delimited file, each with the line it starts on (a quoted
    field may run over several lines); a row with an overlong field goes to ``errors``."""
    sep = delimiter or ("\t" if fmt == "tsv" else ",")
    quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
    with path.open(encoding=encoding, newline="") as handle:
        # strict: a quote left open or followed by more text is an error, not glued to
        # the next rows.
        reader = csv.reader(handle, delimiter=sep, quoting=quoting, strict=quoting != csv.QUOTE_NONE)
        start = 1
        while True:
            previous = csv.field_size_limit(_CSV_LIMIT)  # process-wide: set only while parsing a row
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(path, start, _csv_problem(str(exc), sep, quoting)) from None
            finally:
                csv.field_size_limit(previous)
            number, start = start, reader.line_num + 1
            longest = max(map(len, row), default=0)
            if longest > MAX_FIELD_CHARS:
                errors.add(number, _too_long(longest, quoting))
            elif any(cell.strip() for cell in row):
                yield number, row


def _too_long(length: int, quoting: int) -> str:
    quoted = quoting != csv.QUOTE_NONE
    hint = "; is a '\"' left open on this row?" if quoted else "; is data.format or data.delimiter wrong?"
    return f"a field of {length:,} characters, more than the {MAX_FIELD_CHARS:,} nlpkit reads{hint}"


def _csv_problem(message: str, sep: str, quoting: int) -> str:
    quoted = quoting != csv.QUOTE_NONE
    if message == "unexpected end of data" and quoted:
        return "a quoted field that starts on this row is never closed (no closing '\"' before the end of the file)"
    if message.endswith("expected after '\"'"):
        return f"expected {sep!r} or the end of the line after the closing '\"' of a quoted field, found more text"
    return f"cannot be read as {'CSV' if quoted else 'TSV'}: {message}"


def pick(record: Record, column: Column, path: Path, what: str) -> Any:
    """The value of ``column`` in ``record``; a missing column names file and line."""
    key = str(column)
    if key not in record.values:
        if record.kind == "key":
            known = ", ".join(repr(k) for k in record.values) or "none"
            raise DataError(path, record.line, f"no {what} key {key!r} (keys: {known})")
        if record.indexed and key.isdigit():
            found = len(record.values)
            raise DataError(
                path, record.line, f"expected a {what} in column {key}, found {found} column{'' if found == 1 else 's'}"
            )
        known = ", ".join(record.values) or "none"
        raise DataError(path, record.line, f"no {what} column {column!r} (columns: {known})")
    return record.values[key]


def find_column(record: Record, given: Column | None, names: Sequence[str], index: int) -> Column:
    """The column to read: ``given`` (the recipe's), else the first of ``names`` that the
    record has, else ``index`` in a row without header (named columns have no order
    to rely on: the usual name then)."""
    if given is not None:
        return given
    for name in names:
        if name in record.values:
            return name
    return index if record.indexed else names[0]


def read_examples(
    path: Path, options: TableOptions, columns: Sequence[Column], convert: Callable[[Record], T]
) -> list[T]:
    """``convert`` each row of ``path`` into an example; a row that raises :class:`BadRow`
    (or is malformed) stops the reading with file and line, or is skipped and counted
    with ``data.on_error: skip``. ``columns``: the names that mark a header row.
    ``options.columns`` (``data.columns``) renames the file's columns to the task's."""
    errors = RowErrors(path, options.on_error)
    records = read_records(
        path,
        options.format,
        columns=(*columns, *options.columns.values()),
        header=options.header,
        delimiter=options.delimiter,
        encoding=options.encoding,
        errors=errors,
    )
    return convert_records(renamed(records, options.columns), errors, convert)


def convert_records(records: Iterable[Record], errors: RowErrors, convert: Callable[[Record], T]) -> list[T]:
    """``convert`` each record; one that raises :class:`BadRow` goes to ``errors``."""
    examples: list[T] = []
    for record in records:
        try:
            examples.append(convert(record))
        except BadRow as bad:
            errors.add(record.line, str(bad))
    errors.report()
    return examples


def renamed(records: Iterable[Record], columns: Mapping[str, str]) -> Iterator[Record]:
    """The records with ``columns`` (``data.columns``: the task's name -> the data's)
    renamed; the task's own column, if the data also has one, gives way."""
    if not columns:
        yield from records
        return
    for record in records:
        record.values = rename_columns(record.values, columns)
        yield record
