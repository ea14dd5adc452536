"""Readers: CoNLL column files and JSONL (tokens + tags, or text + character-offset entities).

Each reader returns :class:`NerExample` objects whose ``tags`` are in the scheme the
model trains on; ``source_tags``/``scheme`` keep the file's own tags for writing
predictions back in the file's scheme. A malformed row raises
:class:`nlpkit.errors.DataError` naming the file and line, or, with ``on_error="skip"``,
drops its sentence and is counted in ``ReadResult.skipped``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

from nlpkit.errors import DataError, RowErrors
from nlpkit.jsonl import json_objects
from nlpkit_ner import schemes
from nlpkit_ner.alignment import split_words

DOCSTART = "-DOCSTART-"
_TAG = re.compile(r"^(O|[BIESLU]-\S+)$")  # a tag of any scheme nlpkit reads


@dataclass
class NerExample:
    """One sentence: words, and (when labelled) one tag per word."""

    words: list[str]
    tags: list[str] | None = None
    """Gold tags in the model's scheme (``None``: unlabelled)."""
    source_tags: list[str] | None = None
    """Gold tags as written in the file (in ``scheme``)."""
    scheme: str | None = None
    text: str | None = None
    """The raw text, when the example came from text (then ``offsets`` are set)."""
    offsets: list[tuple[int, int]] | None = None
    """Character span of each word in ``text``."""
    gold_entities: list[dict[str, Any]] | None = None
    where: str = ""
    """``path:line`` of the sentence's first row, for messages."""


@dataclass
class ReadOptions:
    format: Literal["auto", "conll", "jsonl"] = "auto"
    token_column: int = 0
    tag_column: int = -1
    separator: str | None = None
    scheme: str = "auto"
    target_scheme: schemes.Scheme = "iob2"
    labels: Sequence[str] | None = None
    encoding: str = "utf-8-sig"
    on_error: Literal["raise", "skip"] = "raise"
    columns: dict[str, str] = field(default_factory=dict)
    """``data.columns``: JSONL keys by the names the reader reads (tokens, tags, ...)."""


@dataclass
class ReadResult:
    examples: list[NerExample]
    scheme: str | None
    skipped: list[tuple[int | None, str]] = field(default_factory=list)
    """``(line, message)`` of each sentence dropped under ``on_error: skip``."""


@dataclass
class _Rows:
    """A sentence before tag checks: words, tags and the line of each word."""

    words: list[str]
    tags: list[str] | None
    lines: list[int]
    text: str | None = None
    offsets: list[tuple[int, int]] | None = None
    gold_entities: list[dict[str, Any]] | None = None


def read(path: str | Path, options: ReadOptions) -> ReadResult:
    path = Path(path)
    fmt = options.format
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "conll"
    errors = RowErrors(path, options.on_error)  # raises at once, or counts and reports
    rows = list(_conll_rows(path, options, errors.add) if fmt == "conll" else _jsonl_rows(path, options, errors))
    return _checked(path, rows, options, errors)


def read_rows(records: Iterable[tuple[int, Any]], source: str, options: ReadOptions) -> ReadResult:
    """A table's rows (``(index, values)``), each a sentence as a JSONL line holds it:
    ``tokens`` and ``tags`` (tag names), or ``text`` and ``entities``."""
    errors = RowErrors(source, options.on_error, unit="row")
    return _checked(source, list(_object_rows(records, errors)), options, errors)


def _checked(path: str | Path, rows: list[_Rows], options: ReadOptions, errors: RowErrors) -> ReadResult:
    result = _check_tags(path, rows, options, errors.add)
    errors.report()
    result.skipped = list(errors.skipped)
    return result


def _conll_lines(path: Path, options: ReadOptions) -> Iterator[tuple[int, str, list[str] | None]]:
    """(line number, line, cells) of every line; cells are None at a sentence break
    (a blank or whitespace-only line, or -DOCSTART-)."""
    with path.open(encoding=options.encoding, newline=None) as handle:
        for number, raw in enumerate(handle, start=1):
            # Whitespace-only lines separate sentences too; a set separator keeps empty cells.
            if options.separator and raw.strip():
                parts = [p.strip() for p in raw.rstrip("\r\n").split(options.separator)]
            else:
                parts = raw.split()
            yield number, raw, None if not raw.strip() or parts[0] == DOCSTART else parts


def looks_like_conll(lines: Sequence[str], separator: str | None = None, tag_column: int = -1) -> bool:
    """Whether a file's first ``lines`` are CoNLL columns: a -DOCSTART- line first, or
    two or more word lines of the same width (2 columns or more) whose tag column holds
    a tag (``O``, ``B-PER``...) on every one. A plain text whose last word is "O" is
    one line; twenty texts that all end in tags are not plain text."""
    rows: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(separator)] if separator else line.split()
        if not rows and cells[0] == DOCSTART:
            return True
        rows.append(cells)
    width = len(rows[0]) if rows else 0
    if len(rows) < 2 or width < 2 or any(len(cells) != width for cells in rows):
        return False
    return -width <= tag_column < width and all(_TAG.match(cells[tag_column]) for cells in rows)


def _conll_rows(path: Path, options: ReadOptions, fail: Any) -> Iterator[_Rows]:
    columns, first_line = _usual_width(path, options)
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    bad = False
    for number, raw, parts in _conll_lines(path, options):
        if parts is None:
            if words and not bad:
                yield _Rows(words, tags, lines)
            words, tags, lines, bad = [], [], [], False
            continue
        if len(parts) != columns:
            fail(number, f"expected {columns} columns (as on line {first_line}), found {len(parts)}: {raw.strip()!r}")
            bad = True
            continue
        words.append(parts[options.token_column])
        tags.append(parts[options.tag_column])
        lines.append(number)
    if words and not bad:
        yield _Rows(words, tags, lines)


def _usual_width(path: Path, options: ReadOptions) -> tuple[int, int]:
    """The column count of most word lines (ties: the earliest line's) and the first line
    that has it, so that a line with a cell too few is the line reported, even the first
    one. Checks that the token and tag columns exist and differ."""
    counts: Counter[int] = Counter()
    first: dict[int, int] = {}
    for number, _, parts in _conll_lines(path, options):
        if parts is not None:
            counts[len(parts)] += 1
            first.setdefault(len(parts), number)
    if not counts:
        return 0, 0
    columns = counts.most_common(1)[0][0]
    first_line = first[columns]
    for name, index in (("token_column", options.token_column), ("tag_column", options.tag_column)):
        if not -columns <= index < columns:
            raise DataError(path, first_line, f"data.{name} = {index}, but the line has {columns} columns")
    if options.token_column % columns == options.tag_column % columns:
        if columns == 1:
            message = "expected a word and its tag on each line, found 1 column (NER data files hold gold tags)"
        else:
            message = (
                f"data.token_column = {options.token_column} and data.tag_column = {options.tag_column} are the same "
                f"column of the {columns}: set them to the word's and the tag's"
            )
        raise DataError(path, first_line, message)
    return columns, first_line


def _jsonl_rows(path: Path, options: ReadOptions, errors: RowErrors) -> Iterator[_Rows]:
    with path.open(encoding=options.encoding) as handle:
        objects = json_objects(handle, errors, "a JSON object with 'tokens' or 'text'", options.columns)
        yield from _object_rows(objects, errors)


def _object_rows(records: Iterable[tuple[int, Any]], errors: RowErrors) -> Iterator[_Rows]:
    for number, record in records:
        try:
            yield _record_rows(record, number)
        except ValueError as exc:
            errors.add(number, str(exc))


def _record_rows(record: Any, number: int) -> _Rows:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object with 'tokens' or 'text', got {type(record).__name__}")
    if "tokens" in record:
        words, tags = record["tokens"], record.get("tags")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("'tokens' must be a list of strings")
        if tags is not None:
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError("'tags' must be a list of strings (tag names such as B-PER, not ids)")
            if len(tags) != len(words):
                raise ValueError(f"{len(words)} tokens but {len(tags)} tags")
        return _Rows(list(words), None if tags is None else list(tags), [number] * len(words))
    if "text" in record:
        text = record["text"]
        if not isinstance(text, str):
            raise ValueError("'text' must be a string")
        raw_entities = record.get("entities")
        entities = None if raw_entities is None else _check_entities(text, raw_entities)
        boundaries = [b for e in entities or () for b in (e["start"], e["end"])]
        offsets = split_words(text, boundaries)
        words = [text[s:e] for s, e in offsets]
        tags = None
        if entities is not None:
            spans = []
            for e in entities:
                covered = [i for i, (s, t) in enumerate(offsets) if s >= e["start"] and t <= e["end"]]
                if not covered:
                    raise ValueError(f"entity {e} covers no word")
                spans.append(schemes.Span(e["label"], covered[0], covered[-1] + 1))
            tags = schemes.to_tags(spans, len(words), "iob2")
        return _Rows(words, tags, [number] * len(words), text, offsets, entities)
    keys = ", ".join(repr(k) for k in record) or "none"
    raise ValueError(f"expected the keys 'tokens' (and 'tags') or 'text' (and 'entities'); keys: {keys}")


def _check_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    if not isinstance(entities, list):
        raise ValueError("'entities' must be a list of {start, end, label}")
    out = []
    for e in entities:
        if not isinstance(e, dict) or not {"start", "end", "label"} <= set(e):
            raise ValueError(f"entity {e!r} needs the keys start, end, label")
        start, end, label = e["start"], e["end"], e["label"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise ValueError(f"entity {e!r}: offsets must satisfy 0 <= start < end <= {len(text)} (len of text)")
        if not isinstance(label, str) or not label or label == "O":
            raise ValueError(f"entity {e!r}: label must be a non-empty type name such as PER")
        if not text[start:end].strip():
            raise ValueError(f"entity {e!r} covers only whitespace")
        out.append({"start": start, "end": end, "label": label})
    out.sort(key=lambda e: e["start"])
    for a, b in zip(out, out[1:]):
        if b["start"] < a["end"]:
            raise ValueError(f"entities {a} and {b} overlap (nested entities are not supported)")
    return out


def _check_tags(path: str | Path, rows: list[_Rows], options: ReadOptions, fail: Any) -> ReadResult:
    """Check tag syntax and label set, pick the scheme, validate sequences, convert."""
    labels = set(options.labels) if options.labels is not None else None
    good: list[_Rows] = []
    for row in rows:
        if row.tags is None:
            good.append(row)
            continue
        ok = True
        for tag, line in zip(row.tags, row.lines):
            try:
                _, label = schemes.split_tag(tag)
            except schemes.TagError as exc:
                fail(line, str(exc))
                ok = False
                break
            if labels is not None and label and label not in labels:
                fail(line, f"tag {tag}: entity type {label} is not in data.labels ({', '.join(sorted(labels))})")
                ok = False
                break
        if ok:
            good.append(row)
    tagged = [r.tags for r in good if r.tags is not None and r.text is None]
    scheme: str | None = None
    if options.scheme != "auto":
        scheme = schemes.canonical_scheme(options.scheme)
    elif tagged:
        scheme = schemes.detect(tagged)
    examples: list[NerExample] = []
    for row in good:
        source_scheme = "iob2" if row.text is not None else scheme  # text entities are written as IOB2
        tags = None
        if row.tags is not None:
            try:
                schemes.validate(row.tags, source_scheme)  # type: ignore[arg-type]
            except schemes.TagError as exc:
                fail(row.lines[max(exc.index, 0)], f"{exc} (tags read as {source_scheme.upper()}; set data.scheme if that is wrong)")  # type: ignore[union-attr]
                continue
            tags = schemes.convert(row.tags, options.target_scheme)
        examples.append(
            NerExample(
                words=row.words,
                tags=tags,
                source_tags=row.tags,
                scheme=source_scheme if row.tags is not None else None,
                text=row.text,
                offsets=row.offsets,
                gold_entities=row.gold_entities,
                where=f"{path}:{row.lines[0] if row.lines else '?'}",
            )
        )
    return ReadResult(examples, scheme)
