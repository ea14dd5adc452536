"""What sentiment and sentence-pair tasks share: recipe label maps, and the choice
between classes and regression (``head.type: regression``: one value per example, MSE
loss, Pearson/Spearman/MAE, predictions on the labels' own scale)."""

from __future__ import annotations

from typing import Any, Callable, Literal

from pydantic import Field, field_validator

from nlpkit.readers import BadRow, Column
from nlpkit.recipe import DataSection, HeadSection
from nlpkit_classification.labels import ClassLabels, LabelStrategy, ScaleLabels, missing


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


def map_label(label_map: dict[str, str] | None, raw: Any, column: Column, kind: str) -> Any:
    """A raw label through ``data.label_map`` (unchanged without one); ``kind``: what
    ``column`` is, for messages ("key" in JSON)."""
    if missing(raw):
        raise BadRow(f"missing label ({kind} {column!r})")
    if not label_map:
        return raw
    key = str(raw).strip()
    if key not in label_map:
        raise BadRow(f"label {key!r} ({kind} {column!r}) is not in data.label_map ({', '.join(label_map)})")
    return label_map[key]


def scored_labels(
    head: ScoredHead, classes: Callable[[], ClassLabels], *, value_key: str, source: str
) -> LabelStrategy:
    """The strategy that ``head.type`` asks for: ``classes()``, or a scale whose
    predictions are named ``value_key``, standardised for training and clipped to
    ``head.range``."""
    if head.type == "regression":
        return ScaleLabels(head.range, value_key=value_key, source=source)
    return classes()
