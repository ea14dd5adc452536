"""Label strategies of sequence-level tasks: what a gold label is and how the head's
output becomes a prediction. A task picks one from its options when it is built and
delegates to it, so that no method asks which kind of labels it has.

- :class:`ClassLabels`: named classes, one per text (softmax) or several (sigmoid and a
  threshold); state ``{"labels": [...]}``.
- :class:`ScaleLabels`: a number per text (ratings, similarity scores), learnt
  standardised with the training labels' mean and standard deviation and predicted on
  their own scale, clipped to its range; state ``{"scale": {...}}``.

Each method belongs to one concern, so that the pieces can move separately: labels
(``parse``, ``setup``, ``check``, state), training (``target``, ``num_outputs``,
``loss``), decoding (``decode``, ``position``) and metrics (``metric``,
``metric_inputs``, ``metric_names``). Heavy libraries are imported inside methods: a
strategy is built whenever a recipe is validated.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Protocol, Sequence

from nlpkit.errors import RecipeError
from nlpkit.readers import BadRow, Column

if TYPE_CHECKING:  # pragma: no cover
    import evaluate
    import torch

Gold = tuple[int | None, Any]
"""An example's line and gold label, as :meth:`LabelStrategy.check` gets them."""


class LabelStrategy(Protocol):
    """What a sequence-level task asks of its labels."""

    labels: list[str]
    """Class names in the order of the head's outputs (empty for a scale)."""
    monitor: str | None
    """The metric that picks the best checkpoint, when the strategy decides (else the task's)."""
    logits_kind: Literal["softmax", "sigmoid", "value"]
    """How the head's outputs are read (:class:`nlpkit.task.Logits`), for distillation."""

    def parse(self, raw: Any, column: Column, kind: str = "column") -> Any: ...
    def setup(self, labels: Sequence[Any]) -> None: ...
    def check(self, gold: Sequence[Gold]) -> list[str]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
    def target(self, label: Any) -> Any: ...
    def num_outputs(self) -> int: ...
    def loss(self, output: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor": ...
    def decode(self, output: Any) -> dict[str, Any]: ...
    def position(self, prediction: dict[str, Any]) -> float: ...
    def metric(self) -> "evaluate.Metric": ...
    def metric_inputs(self, labels: Sequence[Any], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]: ...
    def metric_names(self) -> frozenset[str]: ...


def label_order(label: str) -> tuple[int, float, str]:
    """Numbers in numeric order (so '10' follows '9'), then the rest alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def spread(n: int) -> list[float]:
    """Weights of ``n`` ordered labels: -1 for the first, +1 for the last, evenly between."""
    return [-1.0 + 2.0 * i / (n - 1) for i in range(n)]


def missing(raw: Any) -> bool:
    """No label at all: absent, or blank text."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def as_list(label: str | list[str] | None) -> list[str]:
    if label is None:
        return []
    return label if isinstance(label, list) else [label]


class ClassLabels:
    """Named classes: one per example (softmax, cross-entropy) or, with ``multi_label``,
    a set per example (sigmoid, binary cross-entropy, ``threshold``).

    ``fixed``: the recipe's label set (``data.labels``), else the training labels sorted
    by ``order``. ``pattern`` keeps the first group of each raw label
    (``data.label_regex``); ``separator`` splits a multi-label cell. ``positive_f1``
    reports ``f1``, the F1 of ``positive`` (``data.positive_label``; default: "1" if a
    label, else the last of two labels). ``source`` names the recipe in errors."""

    monitor: str | None = None

    def __init__(
        self,
        fixed: Sequence[str] | None = None,
        *,
        multi_label: bool = False,
        threshold: float = 0.5,
        separator: str = ",",
        pattern: str | None = None,
        order: Callable[[str], Any] = label_order,
        positive: str | None = None,
        positive_f1: bool = False,
        source: str = "<recipe>",
    ) -> None:
        self.fixed = None if fixed is None else list(fixed)
        self.multi_label = multi_label
        self.threshold = threshold
        self.separator = separator
        self.pattern = pattern
        self.order = order
        self.positive = positive
        self.positive_f1 = positive_f1
        self.source = source
        self.labels = list(self.fixed or [])
        self.logits_kind: Literal["softmax", "sigmoid", "value"] = "sigmoid" if multi_label else "softmax"

    @property
    def labels(self) -> list[str]:
        return self._labels

    @labels.setter
    def labels(self, labels: list[str]) -> None:
        self._labels = labels
        self._index = {label: i for i, label in enumerate(labels)}

    # -- labels ----------------------------------------------------------------------
    def parse(self, raw: Any, column: Column, kind: str = "column") -> str | list[str]:
        """A raw label (a cell, a JSON value) as a class name, or a sorted list of them
        (multi-label); ``kind``: what ``column`` is, for messages ("key" in JSON)."""
        if missing(raw) or raw == []:
            raise BadRow(f"missing label ({kind} {column!r})")
        if self.multi_label:
            values = raw if isinstance(raw, list) else str(raw).split(self.separator)
            return sorted({self.clean(v) for v in values if str(v).strip()})
        if isinstance(raw, list):
            raise BadRow(f"a list of labels in column {column!r}; set head.multi_label: true for multi-label data")
        return self.clean(raw)

    def clean(self, value: Any) -> str:
        text = str(value).strip()
        if self.pattern:
            match = re.search(self.pattern, text)
            if not match:
                raise BadRow(f"label {text!r} does not match data.label_regex {self.pattern!r}")
            text = match.group(1)
        return text

    def setup(self, labels: Sequence[Any]) -> None:
        seen = Counter(name for label in labels for name in as_list(label))
        if self.fixed:
            unknown = sorted(set(seen) - set(self.labels))
            if unknown:
                raise RecipeError(f"{self.source}: training labels {unknown[:5]} are not in data.labels {self.labels}")
        else:
            self.labels = sorted(seen, key=self.order)
        if len(self.labels) < 2 and not self.multi_label:
            raise RecipeError(f"{self.source}: the training data has {len(self.labels)} label(s); need at least 2")
        if self.positive_f1 and self.positive is not None and self.positive not in self.labels:
            raise RecipeError(
                f"{self.source}: data.positive_label {self.positive!r} is not a label ({', '.join(self.labels)})"
            )

    def check(self, gold: Sequence[Gold]) -> list[str]:
        unseen = [(line, name) for line, label in gold for name in as_list(label) if name not in self._index]
        if not unseen:
            return []
        names = sorted({name for _, name in unseen})
        lines = ", ".join(str(line) for line, _ in unseen[:5])
        return [
            f"{len(unseen)} example(s) have labels unseen in training ({', '.join(names[:10])}; lines {lines}); "
            "they stay in the evaluation and count as errors"
        ]

    def state_dict(self) -> dict[str, Any]:
        return {"labels": self.labels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labels = list(state["labels"])

    # -- training ----------------------------------------------------------------------
    def target(self, label: str | list[str]) -> int | list[float]:
        """A class index (-100 when unseen in training: the loss ignores it), or a
        multi-hot vector (multi-label)."""
        if isinstance(label, list):
            return [1.0 if name in label else 0.0 for name in self.labels]
        return self._index.get(label, -100)

    def num_outputs(self) -> int:
        return len(self.labels)

    def loss(self, output: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        import torch.nn.functional as F

        if self.multi_label:
            return F.binary_cross_entropy_with_logits(output.float(), targets.float())
        return F.cross_entropy(output.float(), targets, ignore_index=-100)

    # -- decoding ----------------------------------------------------------------------
    def decode(self, output: Any) -> dict[str, Any]:
        """One example's logits -> ``label`` (or ``labels``) and ``probabilities``."""
        import numpy as np

        logits = np.asarray(output, dtype=np.float64)
        if self.multi_label:
            probs = 1.0 / (1.0 + np.exp(-logits))
            prediction: dict[str, Any] = {"labels": [l for l, p in zip(self.labels, probs) if p >= self.threshold]}
        else:
            shifted = np.exp(logits - logits.max())
            probs = shifted / shifted.sum()
            prediction = {"label": self.labels[int(probs.argmax())]}
        prediction["probabilities"] = {label: float(p) for label, p in zip(self.labels, probs)}
        return prediction

    def position(self, prediction: dict[str, Any]) -> float:
        """Where a prediction lies from the first label (-1) to the last (+1): the expected
        :func:`spread` weight under its probabilities (for labels in a meaningful order)."""
        weights = spread(len(self.labels))
        return sum(w * prediction["probabilities"][label] for w, label in zip(weights, self.labels))

    # -- metrics -----------------------------------------------------------------------
    def metric(self) -> "evaluate.Metric":
        from nlpkit_classification.metric import ClassificationMetric

        return ClassificationMetric(config_name="multilabel" if self.multi_label else "default")

    def metric_inputs(self, labels: Sequence[Any], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        key = "labels" if self.multi_label else "label"
        inputs: dict[str, Any] = {"predictions": [p[key] for p in predictions], "references": list(labels)}
        positive = self.positive_label()
        if positive is not None:
            inputs["positive_label"] = positive
        return inputs

    def positive_label(self) -> str | None:
        """The class whose F1 is reported as ``f1`` (None: no such metric)."""
        if not self.positive_f1:
            return None
        if self.positive is not None:
            return self.positive
        if "1" in self.labels:
            return "1"
        return self.labels[-1] if len(self.labels) == 2 else None

    def metric_names(self) -> frozenset[str]:
        # The flat keys of ClassificationMetric (metric.py), per config.
        if self.multi_label:
            return frozenset({"accuracy", "micro_f1", "macro_f1"})
        names = frozenset({"accuracy", "macro_f1", "mcc"})
        # f1 needs a positive class; only a fixed label set can rule one out before reading.
        fixed = self.fixed if self.positive is None else None
        if not self.positive_f1 or (fixed is not None and "1" not in fixed and len(fixed) != 2):
            return names
        return names | {"f1"}


class ScaleLabels:
    """A number per example, on the scale ``bounds`` (``head.range``; default: the
    training labels' minimum and maximum); predicted as ``value_key``."""

    monitor: str | None = "pearson"
    logits_kind: Literal["softmax", "sigmoid", "value"] = "value"

    def __init__(
        self, bounds: tuple[float, float] | None = None, *, value_key: str = "score", source: str = "<recipe>"
    ) -> None:
        self.bounds = bounds
        self.value_key = value_key
        self.source = source
        self.labels: list[str] = []  # no class names: one value
        self.scale: dict[str, float] = {}

    # -- labels ----------------------------------------------------------------------
    def parse(self, raw: Any, column: Column, kind: str = "column") -> float:
        if missing(raw):
            raise BadRow(f"missing label ({kind} {column!r})")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise BadRow(f"label {raw!r} ({kind} {column!r}) is not a number (head.type: regression)") from None
        if not math.isfinite(value):
            raise BadRow(f"label {raw!r} ({kind} {column!r}) is not a finite number")
        return value

    def setup(self, labels: Sequence[Any]) -> None:
        values = [float(label) for label in labels if label is not None]
        if len(values) < 2:
            raise RecipeError(f"{self.source}: regression needs at least 2 labelled training examples")
        low, high = self.bounds or (min(values), max(values))
        if low == high:
            raise RecipeError(f"{self.source}: every training label is {low:g}; regression needs varied labels")
        self.scale = {
            "mean": statistics.fmean(values),
            "std": statistics.pstdev(values) or 1.0,
            "low": float(low),
            "high": float(high),
        }

    def check(self, gold: Sequence[Gold]) -> list[str]:
        low, high = self.scale["low"], self.scale["high"]
        outside = [line for line, label in gold if label is not None and not low <= label <= high]
        if not outside:
            return []
        return [f"{len(outside)} label(s) lie outside the range [{low:g}, {high:g}] that predictions are clipped to "
                f"(lines {', '.join(map(str, outside[:5]))}); set head.range"]

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = dict(state["scale"])

    # -- training ----------------------------------------------------------------------
    def target(self, label: float) -> float:
        return (float(label) - self.scale["mean"]) / self.scale["std"]

    def num_outputs(self) -> int:
        return 1

    def loss(self, output: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        import torch.nn.functional as F

        return F.mse_loss(output.float().squeeze(-1), targets.float())

    # -- decoding ----------------------------------------------------------------------
    def value(self, output: Any) -> float:
        """An output on the labels' scale, clipped to the range."""
        raw = float(output[0]) * self.scale["std"] + self.scale["mean"]
        return min(max(raw, self.scale["low"]), self.scale["high"])

    def decode(self, output: Any) -> dict[str, Any]:
        return {self.value_key: self.value(output)}

    def position(self, prediction: dict[str, Any]) -> float:
        """Where a prediction lies on the range: -1 at its low end, +1 at its high end."""
        low, high = self.scale["low"], self.scale["high"]
        return 2.0 * (prediction[self.value_key] - low) / (high - low) - 1.0

    # -- metrics -----------------------------------------------------------------------
    def metric(self) -> "evaluate.Metric":
        from nlpkit_classification.metric import RegressionMetric

        return RegressionMetric()

    def metric_inputs(self, labels: Sequence[Any], predictions: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"predictions": [p[self.value_key] for p in predictions], "references": [float(l) for l in labels]}

    def metric_names(self) -> frozenset[str]:
        return frozenset({"pearson", "spearman", "mae", "mse"})  # RegressionMetric's keys
