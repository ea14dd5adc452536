"""Regression metrics as an ``evaluate.Metric`` (scipy correlations, scikit-learn errors)."""

from __future__ import annotations

import math
from typing import Any

import datasets
import evaluate
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error

_DESCRIPTION = """Pearson and Spearman correlation, mean absolute error and mean squared error
of predicted values (ratings, similarity scores) against gold values. A correlation that is
undefined (constant predictions or references) is reported as 0.0."""


class RegressionMetric(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        value = datasets.Value("float64")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
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
