"""The metric of ``task: nsp``: :class:`ClassificationMetric`'s figures, its accuracy
named ``nsp_accuracy`` as pre-training reports it (the F1 is that of is_next)."""

from __future__ import annotations

from typing import Any

from nlpkit_classification.metric import ClassificationMetric


class NspMetric(ClassificationMetric):
    def _compute(
        self, predictions: list[Any], references: list[Any], positive_label: str | None = None
    ) -> dict[str, Any]:
        metrics = super()._compute(predictions, references, positive_label)
        return {"nsp_accuracy": metrics.pop("accuracy"), **metrics}
