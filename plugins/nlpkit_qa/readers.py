"""Reading extractive QA data: SQuAD v1.1/v2.0 JSON, JSONL and CMRC 2018 JSON, into
:class:`QAExample`.

Gold answers are checked against their context: an ``answer_start`` that does not point
at the answer's text is repaired when the text occurs exactly once in the context
(counted in the log), and reported with the question id otherwise. CMRC 2018 answers
have no starts: :mod:`nlpkit_qa.cmrc_format` finds them.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from nlpkit.columns import rename_columns
from nlpkit.errors import DataError
from nlpkit_qa.cmrc_format import Located, cmrc_rows, find_all, is_cmrc

log = logging.getLogger("nlpkit.qa")


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset in the context

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class QAExample:
    id: str
    question: str
    context: str
    answers: list[Answer] = field(default_factory=list)
    is_impossible: bool = False
    """SQuAD v2: the question has no answer in the context (``answers`` is empty)."""
    has_gold: bool = True
    """False for examples built from user inputs at prediction time."""


@dataclass
class ReadReport:
    """What reading a file did besides returning examples (logged by the task)."""

    repaired: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    unanswerable: list[str] = field(default_factory=list)
    """Unanswerable questions skipped where none were expected (their messages)."""
    located: Located = field(default_factory=Located)
    """CMRC 2018: how the answers were found in their passages."""


class UnanswerableQuestion(DataError):
    """A question without an answer in data read as SQuAD v1.1 (every question answered)."""


def check_answer(
    who: str, context: str, text: str, start: Any, path: str | Path, line: int | None, report: ReadReport
) -> Answer:
    """An answer whose start points at its text; repairs a unique misplaced one.
    ``who`` names the question in messages: "question ID", after its JSON path in SQuAD JSON."""
    if not isinstance(text, str) or not text:
        raise DataError(path, line, f"{who}: an answer text must be a non-empty string, got {text!r}")
    valid_start = isinstance(start, int) and not isinstance(start, bool) and start >= 0
    if valid_start and context[start : start + len(text)] == text:
        return Answer(text, start)
    occurrences = find_all(context, text)
    if len(occurrences) == 1:
        report.repaired += 1
        return Answer(text, occurrences[0])
    where = "does not occur in the context" if not occurrences else f"occurs {len(occurrences)} times in the context"
    raise DataError(path, line, f"{who}: answer_start {start!r} does not point at the answer {text!r}, which {where}")


def read_qa(
    path: str | Path, *, encoding: str = "utf-8-sig", on_error: str = "raise", unanswerable: bool = True,
    columns: Mapping[str, str] | None = None,
) -> tuple[list[QAExample], ReadReport]:
    """Read SQuAD JSON (``data[].paragraphs[].qas[]``), CMRC 2018 JSON (a list of passages)
    or JSONL, told apart by content.

    A malformed question (in SQuAD JSON: also a malformed article or paragraph, with
    its questions) raises a :class:`DataError` naming its line (JSONL) or its JSON path
    (``data[0].paragraphs[1].qas[2]``), or with ``on_error="skip"`` is counted and dropped.
    With ``unanswerable=False`` (SQuAD v1.1) a question without an answer is such a bad
    row too (an :class:`UnanswerableQuestion`, counted apart when skipped). ``columns``
    (``data.columns``) renames the keys of JSONL rows.
    """
    path = Path(path)
    text = path.read_text(encoding=encoding)
    report = ReadReport()
    whole: Any = None
    if path.suffix != ".jsonl":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            if not _first_line_is_an_object(text):  # one JSON document, broken: say where
                raise DataError(path, exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
            whole = None  # several JSON documents: JSONL
    rows: Iterator[tuple[int | None, str | None, dict[str, Any] | DataError]]
    if isinstance(whole, dict) and "data" in whole:
        rows = _squad_rows(whole, path)
    elif is_cmrc(whole):
        rows = cmrc_rows(whole, path, report.located)
    elif whole is not None and path.suffix == ".json" and not (isinstance(whole, dict) and "question" in whole):
        got = f"no 'data' key (keys: {', '.join(map(repr, whole)) or 'none'})" if isinstance(whole, dict) else _kind(whole)
        if isinstance(whole, list):  # the other shape a QA JSON file has here
            got += ", and not a CMRC 2018 list of passages with 'context_text'"
        raise DataError(path, None, f"a SQuAD JSON file is an object with a 'data' list of articles, got {got}")
    else:
        rows = _jsonl_rows(text, path, columns)

    return _examples(rows, path, on_error, unanswerable, report), report


def read_qa_rows(
    records: Iterable[tuple[int, Any]], source: str, *, on_error: str = "raise", unanswerable: bool = True
) -> tuple[list[QAExample], ReadReport]:
    """A table's rows (``(index, values)``), each a question as a JSONL line holds it:
    ``id``, ``question``, ``context``, ``answers`` (``{text: [...], answer_start: [...]}``,
    as in the Hub's SQuAD, or a list of ``{text, answer_start}``), ``is_impossible``."""
    report = ReadReport()
    rows = ((line, None, _object(values, source, line)) for line, values in records)
    return _examples(rows, source, on_error, unanswerable, report), report


def _examples(
    rows: Iterable[tuple[int | None, str | None, dict[str, Any] | DataError]],
    path: str | Path, on_error: str, unanswerable: bool, report: ReadReport,
) -> list[QAExample]:
    """The questions of ``rows``; a bad one (or a repeated id) raises, or is counted and
    dropped with ``on_error="skip"``."""
    examples: list[QAExample] = []
    seen: Counter[str] = Counter()
    for line, where, row in rows:
        try:
            if isinstance(row, DataError):
                raise row
            example = _example(row, path, line, report, where, unanswerable)
            seen[example.id] += 1
            if seen[example.id] > 1:
                raise DataError(path, line, f"{where + ': ' if where else ''}question id {example.id} occurs twice")
        except DataError as exc:
            if on_error != "skip":
                raise
            if isinstance(exc, UnanswerableQuestion):
                report.unanswerable.append(str(exc))
                continue
            report.skipped += 1
            report.problems.append(str(exc))
            continue
        examples.append(example)
    return examples


def looks_like_squad(lines: Sequence[str]) -> bool:
    """Whether a file's first ``lines`` begin a SQuAD JSON document: an object that
    spans lines, or one line that is an object with a 'data' key (not a JSONL row)."""
    first = next((line for line in lines if line.strip()), "").strip()
    if not first.startswith("{"):
        return False
    try:
        row = json.loads(first)
    except json.JSONDecodeError:
        return True  # the opening of a document written over several lines
    return isinstance(row, dict) and "data" in row


def _first_line_is_an_object(text: str) -> bool:
    """Whether the first non-blank line is a JSON object by itself (JSONL, not JSON)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def _kind(value: Any) -> str:
    """What a JSON value is, for messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "nothing" if value is None else names.get(type(value), type(value).__name__)


def _squad_rows(
    whole: dict[str, Any], path: Path
) -> Iterator[tuple[int | None, str | None, dict[str, Any] | DataError]]:
    """Flatten articles to question rows, each with its JSON path (JSON gives no line
    numbers). A malformed article, paragraph or question comes as a DataError in place of
    its rows: the caller raises it, or skips it with ``on_error: skip``."""
    articles = whole["data"]
    if not isinstance(articles, list):
        raise DataError(path, None, f"'data' must be a list of articles, got {_kind(articles)}")

    def bad(where: str, message: str) -> tuple[None, str, DataError]:
        return None, where, DataError(path, None, f"{where}: {message}")

    def keys(value: dict[str, Any]) -> str:
        return ", ".join(repr(k) for k in value) or "none"

    for a, article in enumerate(articles):
        where = f"data[{a}]"
        if not isinstance(article, dict):
            yield bad(where, f"expected an article object with 'paragraphs', got {_kind(article)}")
            continue
        paragraphs = article.get("paragraphs")
        if paragraphs is None:
            yield bad(where, f"no 'paragraphs' key (keys: {keys(article)})")
            continue
        if not isinstance(paragraphs, list):
            yield bad(f"{where}.paragraphs", f"expected a list of {{context, qas}} objects, got {_kind(paragraphs)}")
            continue
        for p, paragraph in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph, dict):
                yield bad(where, f"expected a {{context, qas}} object, got {_kind(paragraph)}")
                continue
            context, qas = paragraph.get("context"), paragraph.get("qas")
            missing = [k for k, v in (("context", context), ("qas", qas)) if v is None]
            if missing:
                yield bad(where, f"no {' or '.join(repr(k) for k in missing)} key (keys: {keys(paragraph)})")
                continue
            if not isinstance(context, str):
                yield bad(f"{where}.context", f"expected the paragraph's text as a string, got {_kind(context)}")
                continue
            if not isinstance(qas, list):
                yield bad(f"{where}.qas", f"expected a list of questions, got {_kind(qas)}")
                continue
            for q, qa in enumerate(qas):
                where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                if not isinstance(qa, dict):
                    yield bad(where, f"expected a question object {{id, question, answers}}, got {_kind(qa)}")
                    continue
                if "question" not in qa:
                    yield bad(where, f"no 'question' key (keys: {keys(qa)})")
                    continue
                answers = qa.get("answers", [])
                if not isinstance(answers, list) or not all(isinstance(x, dict) for x in answers):
                    shown = _kind(answers) if not isinstance(answers, list) else "a list holding " + ", ".join(
                        sorted({_kind(x) for x in answers if not isinstance(x, dict)})
                    )
                    yield bad(f"{where}.answers", f"expected a list of {{text, answer_start}} objects, got {shown}")
                    continue
                yield None, where, {
                    "id": qa.get("id", where),
                    "question": qa["question"],
                    "context": context,
                    "answers": {
                        "text": [x.get("text") for x in answers],
                        "answer_start": [x.get("answer_start") for x in answers],
                    },
                    "is_impossible": bool(qa.get("is_impossible", False)),
                }


def _jsonl_rows(
    text: str, path: Path, columns: Mapping[str, str] | None
) -> Iterator[tuple[int | None, str | None, dict[str, Any] | DataError]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, DataError(path, number, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        yield number, None, _object(rename_columns(row, columns) if isinstance(row, dict) else row, path, number)


def _object(row: Any, path: str | Path, line: int) -> dict[str, Any] | DataError:
    if isinstance(row, dict):
        return row
    return DataError(path, line, f"expected a JSON object with id, question, context, answers, got {_kind(row)}")


def _example(
    row: dict[str, Any], path: str | Path, line: int | None, report: ReadReport, where: str | None = None,
    unanswerable: bool = True,
) -> QAExample:
    """``where``: the question's JSON path in SQuAD JSON (``line`` is None there)."""
    qid = row.get("id")
    if qid is None or isinstance(qid, (dict, list)):
        keys = ", ".join(repr(k) for k in row) or "none"
        raise DataError(path, line, f"{where + ': ' if where else ''}every question needs an 'id' (keys: {keys})")
    qid = str(qid)
    who = f"{where}, question {qid}" if where else f"question {qid}"
    question, context = row.get("question"), row.get("context")
    keys = ", ".join(repr(k) for k in row)
    for key, value in (("question", question), ("context", context)):
        if value is None:
            raise DataError(path, line, f"{who}: no {key!r} key (keys: {keys})")
    if not isinstance(question, str) or not question.strip():
        raise DataError(path, line, f"{who}: 'question' must be a non-empty string, got {_shown(question)}")
    if not isinstance(context, str):
        raise DataError(path, line, f"{who}: 'context' must be a string, got {_shown(context)}")
    raw = row.get("answers")
    if raw is None:
        raw = {"text": [], "answer_start": []}
    if isinstance(raw, list) and all(isinstance(a, dict) for a in raw):  # SQuAD-style list of {text, answer_start}
        raw = {"text": [a.get("text") for a in raw], "answer_start": [a.get("answer_start") for a in raw]}
    shape = "{'text': [...], 'answer_start': [...]} or a list of {'text': ..., 'answer_start': ...}"
    if not isinstance(raw, dict):
        raise DataError(path, line, f"{who}: 'answers' must be {shape}, got {_shown(raw)}")
    texts, starts = raw.get("text", []), raw.get("answer_start", [])
    for key, value in (("text", texts), ("answer_start", starts)):
        if not isinstance(value, list):
            raise DataError(path, line, f"{who}: 'answers' must be {shape}; its {key!r} is {_shown(value)}, not a list")
    if len(texts) != len(starts):
        raise DataError(path, line, f"{who}: {len(texts)} answer texts but {len(starts)} answer_start values")
    impossible = bool(row.get("is_impossible", False))
    # SQuAD v2 keeps `plausible_answers` apart; an impossible question has no gold span.
    answers = [] if impossible else [check_answer(who, context, t, s, path, line, report) for t, s in zip(texts, starts)]
    if not answers:
        impossible = True  # no gold answer (JSONL v2 style): the question is unanswerable
    if impossible and not unanswerable:
        why = '"is_impossible": true' if row.get("is_impossible") else "no answers"
        raise UnanswerableQuestion(
            path, line, f"{who}: an unanswerable question ({why}), but data.squad_v2 is false (every question "
            "has an answer); set data.squad_v2: true if the data holds questions without an answer (SQuAD v2.0)",
        )
    return QAExample(qid, question, context, answers, impossible)


def _shown(value: Any) -> str:
    """A value in a message: short, with its JSON kind when it is not a string."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:59] + "…"
    return text if isinstance(value, str) else f"{_kind(value)} {text}"
