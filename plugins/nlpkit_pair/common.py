"""What sentiment and sentence-pair tasks share on top of ``task: classification``:
recipe label maps, and regression (``head.type: regression``) as an alternative to
classes: one value per example, MSE loss, Pearson/Spearman/MAE, predictions on the
labels' own scale."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Sequence

from pydantic import Field, field_validator

from nlpkit.errors import RecipeError
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import Feature
from nlpkit_classification.readers import Column
from nlpkit_classification.task import ClassificationTask, BadRow

if TYPE_CHECKING:  # pragma: no cover
    import torch


class LabelMapOption(DataSection):
    label_map: dict[str, str] | None = Field(
        None,
        description="Raw label -> label name, e.g. {0: negative, 1: positive}; a raw label "
        "outside the map is a bad row. Regression: names are numbers, e.g. {'five stars': 5}.",
    )

    @field_validator("label_map", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        # YAML reads `0: negative` with an int key; labels are compared as text.
        if isinstance(value, dict):
            return {str(k).strip(): str(v).strip() for k, v in value.items()}
        return value


class ScoredHead(HeadSection):
    type: Literal["classification", "regression"] = Field(
        "classification", description="classification (softmax over labels) or regression (one value, MSE loss)."
    )
    pooling: Literal["cls", "mean", "pooler"] = Field("mean", description="How the sequence becomes one vector.")
    range: tuple[float, float] | None = Field(
        None,
        description="Regression: the scale of the labels, e.g. [1, 5]; predictions are clipped "
        "to it (default: the training labels' minimum and maximum).",
    )

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError("range is [low, high] with low < high")
        return value

    @property
    def multi_label(self) -> bool:
        """These tasks are single-label; the classification code paths ask."""
        return False


class ScoredTask(ClassificationTask):
    """Single-label classification, or regression with ``head.type: regression``.

    Regression targets are standardised with the training labels' mean and standard
    deviation (kept in the task state), so the head's scale does not depend on the
    rating scale; predictions are mapped back and clipped to ``head.range``.
    """

    value_key: ClassVar[str] = "score"
    """Name of the predicted value in regression predictions."""

    def __init__(self, recipe: Any) -> None:
        super().__init__(recipe)
        self.scale: dict[str, float] = {}
        if self.regression:
            self.monitor = "pearson"

    @property
    def regression(self) -> bool:
        return self.head_options.type == "regression"

    # -- labels ----------------------------------------------------------------------
    def parse_label(self, raw: Any, column: Column, kind: str = "column") -> Any:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise BadRow(f"missing label ({kind} {column!r})")
        label_map = getattr(self.data_options, "label_map", None)
        if label_map:
            key = str(raw).strip()
            if key not in label_map:
                raise BadRow(f"label {key!r} ({kind} {column!r}) is not in data.label_map ({', '.join(label_map)})")
            raw = label_map[key]
        if not self.regression:
            return super().parse_label(raw, column, kind)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise BadRow(f"label {raw!r} ({kind} {column!r}) is not a number (head.type: regression)") from None
        if not math.isfinite(value):
            raise BadRow(f"label {raw!r} ({kind} {column!r}) is not a finite number")
        return value

    def setup(self, train: Sequence[Any]) -> None:
        if not self.regression:
            super().setup(train)
            return
        values = [float(e.label) for e in train if e.label is not None]
        if len(values) < 2:
            raise RecipeError(f"{self.recipe.source}: regression needs at least 2 labelled training examples")
        low, high = self.head_options.range or (min(values), max(values))
        if low == high:
            raise RecipeError(f"{self.recipe.source}: every training label is {low:g}; regression needs varied labels")
        self.scale = {
            "mean": statistics.fmean(values),
            "std": statistics.pstdev(values) or 1.0,
            "low": float(low),
            "high": float(high),
        }

    def check(self, examples: Sequence[Any], split: str) -> list[str]:
        if not self.regression:
            return super().check(examples, split)
        low, high = self.scale["low"], self.scale["high"]
        outside = [e.line for e in examples if e.label is not None and not low <= e.label <= high]
        if not outside:
            return []
        return [f"{len(outside)} label(s) lie outside the range [{low:g}, {high:g}] that predictions are clipped to "
                f"(lines {', '.join(map(str, outside[:5]))}); set head.range"]

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale} if self.regression else super().state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.regression:
            self.scale = dict(state["scale"])
        else:
            super().load_state_dict(state)

    def target(self, label: Any, index: dict[str, int]) -> Any:
        if self.regression:
            return (float(label) - self.scale["mean"]) / self.scale["std"]
        return super().target(label, index)

    # -- model -----------------------------------------------------------------------
    def num_outputs(self) -> int:
        return 1 if self.regression else super().num_outputs()

    def loss(self, output: "torch.Tensor", batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        if not self.regression:
            return super().loss(output, batch)
        import torch.nn.functional as F

        return F.mse_loss(output.float().squeeze(-1), batch["labels"].float())

    # -- predictions and metrics -------------------------------------------------------
    def value(self, output: Any) -> float:
        """A regression output on the labels' scale, clipped to the range."""
        raw = float(output[0]) * self.scale["std"] + self.scale["mean"]
        return min(max(raw, self.scale["low"]), self.scale["high"])

    def decode(self, examples: Sequence[Any], features: Sequence[Feature], outputs: Sequence[Any]) -> list[dict[str, Any]]:
        if not self.regression:
            return super().decode(examples, features, outputs)
        predictions: list[dict[str, Any]] = [{} for _ in examples]
        for feature, output in zip(features, outputs):
            predictions[feature["example_id"]] = {self.value_key: self.value(output)}
        return predictions

    def metric(self) -> Any:
        if not self.regression:
            return super().metric()
        from nlpkit_pair.metric import RegressionMetric

        return RegressionMetric()

    def metric_names(self) -> frozenset[str]:
        if not self.regression:
            return super().metric_names()
        return frozenset({"pearson", "spearman", "mae", "mse"})  # RegressionMetric's keys

    def compute_metrics(self, examples: Sequence[Any], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        if not self.regression:
            return super().compute_metrics(examples, predictions)
        return self.metric().compute(
            predictions=[p[self.value_key] for p in predictions], references=[float(e.label) for e in examples]
        )
