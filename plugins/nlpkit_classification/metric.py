"""Classification metrics as an ``evaluate.Metric`` (backed by scikit-learn)."""

from __future__ import annotations

from typing import Any

import datasets
import evaluate
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer

_DESCRIPTION = """Accuracy, macro-F1, Matthews correlation and per-class precision/recall/F1
of predicted labels against gold labels. Labels are strings; a gold label that the model
cannot predict (unseen in training) simply counts as an error."""


class ClassificationMetric(evaluate.Metric):
    """``config_name="multilabel"`` takes lists of labels per example (subset accuracy,
    micro/macro F1 and per-class figures)."""

    def _info(self) -> evaluate.MetricInfo:
        value = datasets.Value("string")
        feature = datasets.Sequence(value) if self.config_name == "multilabel" else value
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions, references: label strings (lists of them for multilabel)",
            features=datasets.Features({"predictions": feature, "references": feature}),
        )

    def _compute(self, predictions: list[Any], references: list[Any]) -> dict[str, Any]:
        if self.config_name == "multilabel":
            return _multilabel(predictions, references)
        labels = sorted(set(references) | set(predictions))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "macro_f1": float(f1_score(references, predictions, labels=labels, average="macro", zero_division=0)),
            "mcc": float(matthews_corrcoef(references, predictions)),
            "per_class": {
                label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for label, p, r, f, s in zip(labels, precision, recall, f1, support)
            },
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
