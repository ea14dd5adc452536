"""Metrics of sequence-level predictions as ``evaluate.Metric`` classes: classes
(scikit-learn) and values on a scale (scipy correlations, scikit-learn errors)."""

from __future__ import annotations

import math
from typing import Any

import datasets
import evaluate
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    matthews_corrcoef,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer

_DESCRIPTION = """Accuracy, macro-F1, Matthews correlation and per-class precision/recall/F1
of predicted labels against gold labels. Labels are strings; a gold label that the model
cannot predict (unseen in training) simply counts as an error."""


class ClassificationMetric(evaluate.Metric):
    """``config_name="multilabel"`` takes lists of labels per example (subset accuracy,
    micro/macro F1 and per-class figures). Single-label: ``positive_label`` adds ``f1``,
    the F1 of that class (GLUE's "F1" for MRPC/QQP; 0.0 when it occurs nowhere)."""

    def _info(self) -> evaluate.MetricInfo:
        value = datasets.Value("string")
        feature = datasets.Sequence(value) if self.config_name == "multilabel" else value
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions, references: label strings (lists of them for multilabel)",
            features=datasets.Features({"predictions": feature, "references": feature}),
        )

    def _compute(
        self, predictions: list[Any], references: list[Any], positive_label: str | None = None
    ) -> dict[str, Any]:
        if self.config_name == "multilabel":
            return _multilabel(predictions, references)
        labels = sorted(set(references) | set(predictions))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, zero_division=0
        )
        per_class = {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        }
        positive = {} if positive_label is None else {"f1": per_class.get(positive_label, {}).get("f1", 0.0)}
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            **positive,
            "macro_f1": float(f1_score(references, predictions, labels=labels, average="macro", zero_division=0)),
            "mcc": float(matthews_corrcoef(references, predictions)),
            "per_class": per_class,
        }


def _multilabel(predictions: list[list[str]], references: list[list[str]]) -> dict[str, Any]:
    binarizer = MultiLabelBinarizer()
    binarizer.fit([*references, *predictions])
    gold = binarizer.transform(references)
    pred = binarizer.transform(predictions)
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, zero_division=0)
    return {
        "accuracy": float(accuracy_score(gold, pred)),  # exact match of the label set
        "micro_f1": float(f1_score(gold, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
        "per_class": {
            str(label): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(binarizer.classes_, precision, recall, f1, support)
        },
    }


_REGRESSION = """Pearson and Spearman correlation, mean absolute error and mean squared error
of predicted values (ratings, similarity scores) against gold values. A correlation that is
undefined (constant predictions or references) is reported as 0.0."""


class RegressionMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        value = datasets.Value("float64")
        return evaluate.MetricInfo(
            description=_REGRESSION,
            citation="",
            inputs_description="predictions, references: real numbers",
            features=datasets.Features({"predictions": value, "references": value}),
        )

    def _compute(self, predictions: list[float], references: list[float]) -> dict[str, Any]:
        return {
            "pearson": _correlation(pearsonr, predictions, references),
            "spearman": _correlation(spearmanr, predictions, references),
            "mae": float(mean_absolute_error(references, predictions)),
            "mse": float(mean_squared_error(references, predictions)),
        }


def _correlation(fn: Any, predictions: list[float], references: list[float]) -> float:
    # scipy warns and returns nan for constant input; 0.0 keeps the logged metric finite.
    if len(predictions) < 2 or len(set(predictions)) < 2 or len(set(references)) < 2:
        return 0.0
    value = float(fn(predictions, references)[0])
    return value if math.isfinite(value) else 0.0
