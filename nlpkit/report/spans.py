"""What a report shows of a tagger: entity spans read from the gold and predicted tags,
per-type precision, recall and F1, the kinds of span errors, and sentences with errors.

It reads prediction records that hold ``tokens``, ``tags`` (predicted) and ``gold``
(tags): those of the NER task. Spans are chunks as seqeval reads them in its default
mode (the CoNLL ``conlleval`` reading of IOB2/IOBES tags).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

KINDS = ("correct", "wrong type", "wrong boundary", "wrong type and boundary", "missed", "spurious")
EXAMPLES = 12
NONE = "(none)"
"""The row or column of the type confusion for a span without a counterpart."""

Span = tuple[str, int, int]
"""(type, first token, last token), inclusive."""


def is_tagging(records: Sequence[dict[str, Any]]) -> bool:
    return bool(records) and all(
        isinstance(r.get("tokens"), list) and isinstance(r.get("tags"), list) and isinstance(r.get("gold"), list)
        for r in records
    )


@dataclass
class TypeScores:
    type: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Tagging:
    scores: list[TypeScores]
    micro: TypeScores
    errors: dict[str, Counter[str]]
    """Kind of outcome -> count by entity type (the gold one; the predicted one for spurious)."""
    confusion: dict[str, Counter[str]] = field(default_factory=dict)
    """Gold type -> predicted type of the overlapping span, :data:`NONE` for none."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Sentences with errors: tokens, gold spans and predicted spans."""

    @property
    def types(self) -> list[str]:
        return [s.type for s in self.scores]


def spans(tags: Sequence[str]) -> list[Span]:
    from seqeval.metrics.sequence_labeling import get_entities

    return [(kind, start, end) for kind, start, end in get_entities(list(tags))]


def _overlap(a: Span, b: Span) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


def classify(gold: list[Span], predicted: list[Span]) -> list[tuple[str, str, str]]:
    """(kind, gold type, predicted type) of every span of one sentence: each predicted
    span once, and each gold span that no predicted span overlaps as missed."""
    outcomes = []
    for span in predicted:
        if span in gold:
            outcomes.append(("correct", span[0], span[0]))
            continue
        overlapping = [g for g in gold if _overlap(g, span)]
        same_bounds = [g for g in overlapping if g[1:] == span[1:]]
        same_type = [g for g in overlapping if g[0] == span[0]]
        if same_bounds:
            outcomes.append(("wrong type", same_bounds[0][0], span[0]))
        elif same_type:
            outcomes.append(("wrong boundary", span[0], span[0]))
        elif overlapping:
            outcomes.append(("wrong type and boundary", overlapping[0][0], span[0]))
        else:
            outcomes.append(("spurious", NONE, span[0]))
    for span in gold:
        if not any(_overlap(span, p) for p in predicted):
            outcomes.append(("missed", span[0], NONE))
    return outcomes


def analyse(records: Sequence[dict[str, Any]]) -> Tagging:
    found: Counter[str] = Counter()  # predicted spans by type
    true: Counter[str] = Counter()  # gold spans by type
    hits: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    confusion: dict[str, Counter[str]] = {}
    examples = []
    for record in records:
        gold, predicted = spans(record["gold"]), spans(record["tags"])
        true.update(s[0] for s in gold)
        found.update(s[0] for s in predicted)
        hits.update(s[0] for s in set(gold) & set(predicted))
        outcomes = classify(gold, predicted)
        for kind, gold_type, predicted_type in outcomes:
            errors[kind][predicted_type if kind == "spurious" else gold_type] += 1
            confusion.setdefault(gold_type, Counter())[predicted_type] += 1
        if len(examples) < EXAMPLES and any(kind != "correct" for kind, _, _ in outcomes):
            examples.append({"tokens": record["tokens"], "gold": gold, "predicted": predicted})
    types = sorted(true | found)
    scores = [_scores(t, hits[t], found[t], true[t]) for t in types]
    micro = _scores("all", sum(hits.values()), sum(found.values()), sum(true.values()))
    return Tagging(scores, micro, errors, confusion, examples)


def _scores(kind: str, hits: int, found: int, true: int) -> TypeScores:
    precision = hits / found if found else 0.0
    recall = hits / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TypeScores(kind, precision, recall, f1, true)


def marked(tokens: Sequence[str], entities: Sequence[Span]) -> list[tuple[str, str | None]]:
    """The sentence as (text, entity type or None) pieces, for highlighting."""
    starts = {start: (kind, end) for kind, start, end in entities}
    pieces: list[tuple[str, str | None]] = []
    i = 0
    while i < len(tokens):
        if i in starts:
            kind, end = starts[i]
            pieces.append((" ".join(tokens[i:end + 1]), kind))
            i = end + 1
        else:
            pieces.append((tokens[i], None))
            i += 1
    return pieces
