"""The CMRC 2018 format: a JSON list of passages, answers as plain strings.

``[{"context_id", "title", "context_text", "qas": [{"query_id", "query_text",
"answers": ["..."]}]}]``. The answers carry no offsets, so each is looked up in its
passage: an answer found once is there; one found several times is taken where the
characters around it (:data:`NEIGHBOURHOOD` on each side) share the most distinct
characters with the question, the first of those on a tie; one found nowhere as given
is looked up with its surrounding spaces removed; one found nowhere at all makes its
question a bad row. :class:`Located` counts each case, for the log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from nlpkit.errors import DataError

NEIGHBOURHOOD = 20
"""Characters on each side of an occurrence compared with the question."""

Row = tuple[None, str, "dict[str, Any] | DataError"]


@dataclass
class Located:
    """How the answers of a file were found in their passages."""

    counts: Counter[str] = field(default_factory=Counter)
    """``once``, ``several`` (chosen by the question's characters), ``stripped``
    (found after removing surrounding spaces), ``missing`` (a bad row)."""


def is_cmrc(whole: Any) -> bool:
    """Whether a parsed JSON document is a list of CMRC passages."""
    return isinstance(whole, list) and bool(whole) and isinstance(whole[0], dict) and "context_text" in whole[0]


def locate(context: str, answer: str, question: str, located: Located) -> tuple[str, int] | None:
    """The answer text (stripped where only that is found) and its start, by the rule
    of this module; None when it does not occur."""
    starts = find_all(context, answer)
    if not starts and answer.strip() != answer:
        answer = answer.strip()
        starts = find_all(context, answer)
        located.counts["stripped"] += bool(starts)
    if not starts:
        located.counts["missing"] += 1
        return None
    if len(starts) == 1:
        located.counts["once"] += 1
        return answer, starts[0]
    located.counts["several"] += 1
    asked = set(question)

    def overlap(start: int) -> int:
        around = context[max(0, start - NEIGHBOURHOOD) : start] + context[start + len(answer) : start + len(answer) + NEIGHBOURHOOD]
        return len(asked & set(around))

    return answer, max(starts, key=lambda s: (overlap(s), -s))


def find_all(context: str, text: str) -> list[int]:
    """Every start of ``text`` in ``context``, overlapping ones included."""
    found, at = [], context.find(text) if text else -1
    while at >= 0:
        found.append(at)
        at = context.find(text, at + 1)
    return found


def cmrc_rows(whole: list[Any], path: Path, located: Located) -> Iterator[Row]:
    """Question rows in the shape the SQuAD reader checks (``id``, ``question``,
    ``context``, ``answers`` with starts), each with its JSON path (``[3].qas[1]``); a
    malformed passage or question, or an answer not in its passage, comes as a DataError
    in place of its rows."""
    for p, passage in enumerate(whole):
        where = f"[{p}]"
        if not isinstance(passage, dict) or not isinstance(passage.get("context_text"), str):
            yield None, where, DataError(path, None, f"{where}: expected a passage object with a 'context_text' string")
            continue
        qas = passage.get("qas")
        if not isinstance(qas, list):
            yield None, f"{where}.qas", DataError(path, None, f"{where}.qas: expected a list of questions")
            continue
        for q, qa in enumerate(qas):
            yield _row(passage["context_text"], qa, f"{where}.qas[{q}]", path, located)


def _row(context: str, qa: Any, where: str, path: Path, located: Located) -> Row:
    if not isinstance(qa, dict) or not isinstance(qa.get("query_text"), str) or not qa["query_text"].strip():
        got = repr(qa.get("query_text")) if isinstance(qa, dict) else type(qa).__name__
        return None, where, DataError(
            path, None, f"{where}: expected a question object with a non-empty 'query_text' string, got {got:.80}"
        )
    answers = qa.get("answers", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        return None, where, DataError(path, None, f"{where}.answers: expected a list of non-empty strings, got {answers!r:.80}")
    texts, starts = [], []
    for answer in answers:
        found = locate(context, answer, qa["query_text"], located)
        if found is None:
            return None, where, DataError(path, None, f"{where}: the answer {answer!r} does not occur in its passage")
        texts.append(found[0])
        starts.append(found[1])
    row = {"id": qa.get("query_id", where), "question": qa["query_text"], "context": context}
    return None, where, {**row, "answers": {"text": texts, "answer_start": starts}}
