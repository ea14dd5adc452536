"""What a report shows of a classifier: the confusion matrix, per-class precision, recall
and F1 (scikit-learn's), calibration (a reliability diagram and the expected calibration
error) and the most confident mistakes.

It reads prediction records that hold ``gold``, ``label`` and ``probabilities`` (class ->
probability): those of the classification, sentiment (polarity), pair and NSP tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

BINS = 10
"""Equal-width confidence bins of the reliability diagram and of the ECE."""
MISTAKES = 12


def is_classification(records: Sequence[dict[str, Any]]) -> bool:
    return bool(records) and all(
        isinstance(r.get("probabilities"), dict) and "gold" in r and "label" in r for r in records
    )


@dataclass
class ClassScores:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class CalibrationBin:
    low: float
    high: float
    count: int
    confidence: float
    """Mean confidence (probability of the predicted class) of the bin's examples."""
    accuracy: float


@dataclass
class Classification:
    labels: list[str]
    matrix: list[list[int]]
    """``matrix[i][j]``: examples of gold class ``labels[i]`` predicted as ``labels[j]``."""
    scores: list[ClassScores]
    bins: list[CalibrationBin]
    ece: float
    mistakes: list[dict[str, Any]]
    """The wrong predictions with the highest confidence, most confident first."""

    @property
    def total(self) -> int:
        return sum(map(sum, self.matrix))


def analyse(records: Sequence[dict[str, Any]]) -> Classification:
    from sklearn.metrics import confusion_matrix

    labels = _labels(records)
    gold = [str(r["gold"]) for r in records]
    predicted = [str(r["label"]) for r in records]
    matrix = confusion_matrix(gold, predicted, labels=labels).tolist()
    bins, ece = calibration(records)
    wrong = [r for r in records if str(r["gold"]) != str(r["label"])]
    wrong.sort(key=lambda r: -_confidence(r))
    mistakes = [{**r, "confidence": _confidence(r)} for r in wrong[:MISTAKES]]
    return Classification(labels, matrix, class_scores(labels, gold, predicted), bins, ece, mistakes)


def _labels(records: Sequence[dict[str, Any]]) -> list[str]:
    """The head's classes (the keys of the probabilities), then any gold label it lacks."""
    labels = [str(k) for k in records[0]["probabilities"]]
    for record in records:
        if str(record["gold"]) not in labels:
            labels.append(str(record["gold"]))
    return labels


def class_scores(labels: list[str], gold: list[str], predicted: list[str]) -> list[ClassScores]:
    """Precision, recall and F1 of every class (0 where undefined, as the task's metric)."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0)
    return [ClassScores(label, float(p), float(r), float(f), int(n))
            for label, p, r, f, n in zip(labels, precision, recall, f1, support)]


def _confidence(record: dict[str, Any]) -> float:
    return float(record["probabilities"][str(record["label"])]) if str(record["label"]) in record[
        "probabilities"] else max(map(float, record["probabilities"].values()))


def calibration(records: Sequence[dict[str, Any]], bins: int = BINS) -> tuple[list[CalibrationBin], float]:
    """The reliability diagram's bins (empty ones left out) and the expected calibration
    error: the examples' share-weighted gap between confidence and accuracy per bin."""
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for record in records:
        confidence = _confidence(record)
        grouped[min(int(confidence * bins), bins - 1)].append((confidence, str(record["gold"]) == str(record["label"])))
    out, ece = [], 0.0
    for i, members in enumerate(grouped):
        if not members:
            continue
        confidence = sum(c for c, _ in members) / len(members)
        accuracy = sum(ok for _, ok in members) / len(members)
        out.append(CalibrationBin(i / bins, (i + 1) / bins, len(members), confidence, accuracy))
        ece += len(members) / len(records) * abs(accuracy - confidence)
    return out, ece
