"""The truecase metric: an ``evaluate.Metric`` defined in the plugin, never loaded by name."""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, precision_recall_fscore_support


class CapitalisationMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="Word accuracy and precision/recall/F1 of the 'capitalised' class.",
            citation="",
            features=datasets.Features({"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}),
        )

    def _compute(self, predictions: list[int], references: list[int]) -> dict[str, float]:
        precision, recall, f1, _ = precision_recall_fscore_support(
            references, predictions, average="binary", zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
        }
