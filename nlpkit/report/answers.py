"""What a report shows of extractive QA: exact match and F1 by question word and by
answer length, unanswerable questions (SQuAD v2), and the worst answers.

It reads prediction records that hold ``question``, ``answer`` and ``gold`` (the list of
gold answers; empty for an unanswerable question): those of the QA task; with
``gold_start``, the answer's ``start``/``end`` and an ``excerpt`` of the context, a worst
answer is shown in its context. Answers are
compared as the official SQuAD script compares them (lower case, no punctuation, no
articles, single spaces; F1 over the words).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

QUESTION_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
LENGTHS = ((1, 1), (2, 2), (3, 3), (4, 5), (6, 10), (11, None))
"""Buckets of the shortest gold answer's length, in words."""
WORST = 12
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def is_extractive_qa(records: Sequence[dict[str, Any]]) -> bool:
    return bool(records) and all(
        isinstance(r.get("question"), str) and "answer" in r and isinstance(r.get("gold"), list) for r in records
    )


def normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: Sequence[str]) -> float:
    if not gold:
        return float(prediction == "")
    return max(float(normalize(prediction) == normalize(g)) for g in gold)


def f1(prediction: str, gold: Sequence[str]) -> float:
    if not gold:
        return float(prediction == "")
    return max(_f1(normalize(prediction).split(), normalize(g).split()) for g in gold)


def _f1(predicted: list[str], gold: list[str]) -> float:
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


@dataclass
class Group:
    name: str
    count: int
    exact_match: float
    f1: float
    """Both in percent, as the task's metric reports them."""


@dataclass
class Answers:
    overall: Group
    by_question_word: list[Group]
    by_answer_length: list[Group]
    unanswerable: Group | None
    """Questions without a gold answer (SQuAD v2), where exact match is the accuracy of
    answering nothing; None when there are none."""
    worst: list[dict[str, Any]]


def analyse(records: Sequence[dict[str, Any]]) -> Answers:
    scored = [
        {**r, "em": exact_match(str(r["answer"] or ""), r["gold"]), "f1": f1(str(r["answer"] or ""), r["gold"])}
        for r in records
    ]
    by_word: dict[str, list[dict[str, Any]]] = {}
    by_length: dict[str, list[dict[str, Any]]] = {}
    for row in scored:
        by_word.setdefault(question_word(row["question"]), []).append(row)
        if row["gold"]:
            by_length.setdefault(_length_bucket(row["gold"]), []).append(row)
    words = sorted(by_word, key=lambda w: (w == "other", -len(by_word[w])))
    lengths = [_bucket_name(b) for b in LENGTHS if _bucket_name(b) in by_length]
    unanswerable = [row for row in scored if not row["gold"]]
    worst = sorted(scored, key=lambda row: (row["f1"], -float(row.get("score") or 0)))[:WORST]
    worst = [{**row, "in_context": in_context(row)} for row in worst]
    return Answers(
        group("all questions", scored),
        [group(w, by_word[w]) for w in words],
        [group(name, by_length[name]) for name in lengths],
        group("unanswerable", unanswerable) if unanswerable else None,
        [row for row in worst if row["f1"] < 1],
    )


def in_context(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The record's context excerpt as (text, mark) pieces, mark one of "", "gold",
    "predicted" and "both"; empty when the record has no excerpt."""
    window = record.get("excerpt")
    if not isinstance(window, dict):
        return []
    text, offset = window["text"], window["start"]
    marks = [0] * len(text)  # bit 1: gold, bit 2: predicted
    for start, answer in zip(record.get("gold_start") or [], record["gold"]):
        for i in range(max(0, start - offset), min(len(text), start - offset + len(answer))):
            marks[i] |= 1
    if record.get("answer"):
        for i in range(max(0, record["start"] - offset), min(len(text), record["end"] - offset)):
            marks[i] |= 2
    names = ("", "gold", "predicted", "both")
    pieces: list[tuple[str, str]] = []
    for char, mark in zip(text, marks):
        if pieces and pieces[-1][1] == names[mark]:
            pieces[-1] = (pieces[-1][0] + char, names[mark])
        else:
            pieces.append((char, names[mark]))
    return pieces


def group(name: str, rows: Sequence[dict[str, Any]]) -> Group:
    n = len(rows)
    return Group(name, n, 100 * sum(r["em"] for r in rows) / n, 100 * sum(r["f1"] for r in rows) / n)


def question_word(question: str) -> str:
    for word in question.lower().split():
        word = word.strip(string.punctuation)
        if word in QUESTION_WORDS:
            return word
    return "other"


def _length_bucket(gold: Sequence[str]) -> str:
    words = min(len(normalize(g).split()) for g in gold)
    for low, high in LENGTHS:
        if words >= low and (high is None or words <= high):
            return _bucket_name((low, high))
    return _bucket_name(LENGTHS[0])  # an answer that normalizes to nothing


def _bucket_name(bucket: tuple[int, int | None]) -> str:
    low, high = bucket
    if high is None:
        return f"{low}+ words"
    return f"{low} word{'s' * (low != 1)}" if low == high else f"{low}-{high} words"
