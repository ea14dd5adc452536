"""Reading extractive QA data: SQuAD v1.1/v2.0 JSON and JSONL, into :class:`QAExample`.

Gold answers are checked against their context: an ``answer_start`` that does not point
at the answer's text is repaired when the text occurs exactly once in the context
(counted in the log), and reported with the question id otherwise.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from nlpkit.errors import DataError

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


def check_answer(
    qid: str, context: str, text: str, start: Any, path: Path, line: int | None, report: ReadReport
) -> Answer:
    """An answer whose start points at its text; repairs a unique misplaced one."""
    if not isinstance(text, str) or not text:
        raise DataError(path, line, f"question {qid}: an answer text must be a non-empty string, got {text!r}")
    if isinstance(start, int) and not isinstance(start, bool) and context[start : start + len(text)] == text:
        return Answer(text, start)
    occurrences = _find_all(context, text)
    if len(occurrences) == 1:
        report.repaired += 1
        return Answer(text, occurrences[0])
    where = "does not occur in the context" if not occurrences else f"occurs {len(occurrences)} times in the context"
    raise DataError(
        path, line, f"question {qid}: answer_start {start!r} does not point at the answer {text!r}, which {where}"
    )


def _find_all(context: str, text: str) -> list[int]:
    found, at = [], context.find(text)
    while at >= 0:
        found.append(at)
        at = context.find(text, at + 1)
    return found


def read_qa(path: str | Path, *, encoding: str = "utf-8-sig", on_error: str = "raise") -> tuple[list[QAExample], ReadReport]:
    """Read SQuAD JSON (``data[].paragraphs[].qas[]``) or JSONL, told apart by content."""
    path = Path(path)
    text = path.read_text(encoding=encoding)
    report = ReadReport()
    whole: Any = None
    if path.suffix != ".jsonl":
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None  # several JSON documents: JSONL
    if isinstance(whole, dict) and "data" in whole:
        rows = _squad_rows(whole, path)
    elif whole is not None and path.suffix == ".json":
        raise DataError(path, None, "a SQuAD JSON file is an object with a 'data' list of articles")
    else:
        rows = _jsonl_rows(text, path)

    examples: list[QAExample] = []
    seen: Counter[str] = Counter()
    for line, row in rows:
        try:
            example = _example(row, path, line, report)
            seen[example.id] += 1
            if seen[example.id] > 1:
                raise DataError(path, line, f"question id {example.id} occurs twice")
        except DataError as exc:
            if on_error != "skip":
                raise
            report.skipped += 1
            report.problems.append(str(exc))
            continue
        examples.append(example)
    return examples, report


def _squad_rows(whole: dict[str, Any], path: Path) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """Flatten articles to question rows (JSON gives no line numbers: ids name them)."""
    if not isinstance(whole["data"], list):
        raise DataError(path, None, "'data' must be a list of articles")
    for a, article in enumerate(whole["data"]):
        for p, paragraph in enumerate(article.get("paragraphs", []) if isinstance(article, dict) else []):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise DataError(path, None, f"data[{a}].paragraphs[{p}] has no context string")
            for qa in paragraph.get("qas", []):
                answers = qa.get("answers", []) if isinstance(qa, dict) else []
                yield None, {
                    "id": qa.get("id", f"data[{a}].paragraphs[{p}]") if isinstance(qa, dict) else None,
                    "question": qa.get("question") if isinstance(qa, dict) else None,
                    "context": paragraph["context"],
                    "answers": {
                        "text": [x.get("text") for x in answers if isinstance(x, dict)],
                        "answer_start": [x.get("answer_start") for x in answers if isinstance(x, dict)],
                    },
                    "is_impossible": bool(qa.get("is_impossible", False)) if isinstance(qa, dict) else False,
                }


def _jsonl_rows(text: str, path: Path) -> Iterator[tuple[int | None, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, number, f"not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise DataError(path, number, "a line must be a JSON object with id, question, context, answers")
        yield number, row


def _example(row: dict[str, Any], path: Path, line: int | None, report: ReadReport) -> QAExample:
    qid = row.get("id")
    if qid is None or isinstance(qid, (dict, list)):
        raise DataError(path, line, "every question needs an 'id'")
    qid = str(qid)
    question, context = row.get("question"), row.get("context")
    if not isinstance(question, str) or not question.strip():
        raise DataError(path, line, f"question {qid}: 'question' must be a non-empty string")
    if not isinstance(context, str):
        raise DataError(path, line, f"question {qid}: 'context' must be a string")
    raw = row.get("answers") or {"text": [], "answer_start": []}
    if isinstance(raw, list):  # SQuAD-style list of {text, answer_start}
        raw = {"text": [a.get("text") for a in raw], "answer_start": [a.get("answer_start") for a in raw]}
    if not isinstance(raw, dict) or not isinstance(raw.get("text", []), list):
        raise DataError(path, line, f"question {qid}: 'answers' must be {{'text': [...], 'answer_start': [...]}}")
    texts, starts = raw.get("text", []), raw.get("answer_start", [])
    if len(texts) != len(starts):
        raise DataError(path, line, f"question {qid}: {len(texts)} answer texts but {len(starts)} answer_start values")
    impossible = bool(row.get("is_impossible", False))
    # SQuAD v2 keeps `plausible_answers` apart; an impossible question has no gold span.
    answers = [] if impossible else [check_answer(qid, context, t, s, path, line, report) for t, s in zip(texts, starts)]
    if not answers:
        impossible = True  # no gold answer (JSONL v2 style): the question is unanswerable
    return QAExample(qid, question, context, answers, impossible)
