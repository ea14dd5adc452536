"""What a report shows of a task that predicts a number on a scale (a rating, a
similarity score): the correlations and errors the task's metric reports, predicted
against gold, the spread of the errors, and the largest ones.

It reads prediction records whose ``gold`` is a number and which hold the predicted
value under one of :data:`VALUE_KEYS`: those of the sentiment and pair tasks with
``head.type: regression``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

VALUE_KEYS = ("rating", "score")
"""Where nlpkit's scale tasks put the predicted value (sentiment: ``rating``; pairs: ``score``)."""
LARGEST = 12


@dataclass
class Scale:
    key: str
    count: int
    pearson: float
    spearman: float
    mae: float
    mse: float
    predicted: list[float]
    gold: list[float]
    largest: list[dict[str, Any]]
    """The records with the largest absolute errors, each with its ``error``."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def value_key(records: Sequence[dict[str, Any]]) -> str | None:
    """The key of the predicted value if every record has a numeric gold and value."""
    for key in VALUE_KEYS:
        if records and all(_number(r.get("gold")) and _number(r.get(key)) for r in records):
            return key
    return None


def analyse(records: Sequence[dict[str, Any]], key: str) -> Scale:
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    predicted = np.array([float(r[key]) for r in records])
    gold = np.array([float(r["gold"]) for r in records])
    errors = predicted - gold
    order = np.argsort(-np.abs(errors), kind="stable")[:LARGEST]
    constant = len(records) < 2 or predicted.std() == 0 or gold.std() == 0  # correlations undefined
    return Scale(
        key=key, count=len(records),
        pearson=float("nan") if constant else float(pearsonr(predicted, gold)[0]),
        spearman=float("nan") if constant else float(spearmanr(predicted, gold)[0]),
        mae=float(np.abs(errors).mean()), mse=float((errors**2).mean()),
        predicted=predicted.tolist(), gold=gold.tolist(),
        largest=[{**records[i], "error": float(errors[i])} for i in order],
    )
