"""``task: sentiment``: polarity classification with a polarity score, or rating regression."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import Feature
from nlpkit_classification.task import ClassificationData, TextExample, _label_order
from nlpkit_pair.common import LabelMapOption, ScoredHead, ScoredTask

# Label words in polarity order; labels outside this list keep numeric/alphabetic order.
POLARITY_WORDS = ("very negative", "negative", "neg", "neutral", "neu", "positive", "pos", "very positive")


class SentimentData(ClassificationData, LabelMapOption):
    """The classification data keys, plus ``label_map``. The label order is the polarity
    order, most negative first: ``data.labels`` when given, else known words
    (negative < neutral < positive), then other ``label_map`` names in the map's order,
    then numbers ascending."""


class SentimentTask(ScoredTask):
    name: ClassVar[str] = "sentiment"
    description: ClassVar[str] = "Sentiment: polarity classes with a polarity score in [-1, 1], or rating regression."
    DataOptions: ClassVar[type[DataSection]] = SentimentData
    HeadOptions: ClassVar[type[HeadSection]] = ScoredHead
    value_key: ClassVar[str] = "rating"

    def setup(self, train: Sequence[TextExample]) -> None:
        super().setup(train)
        if not self.regression and not self.data_options.labels:
            self.labels = sorted(self.labels, key=self._polarity_rank)

    def _polarity_rank(self, label: str) -> tuple[int, Any]:
        if label.lower() in POLARITY_WORDS:
            return (0, POLARITY_WORDS.index(label.lower()))
        names = list(dict.fromkeys((self.data_options.label_map or {}).values()))
        if label in names:
            return (1, names.index(label))
        return (2, _label_order(label))

    def polarity_weights(self) -> list[float]:
        """-1 for the most negative label, +1 for the most positive, evenly spaced between."""
        n = len(self.labels)
        return [-1.0 + 2.0 * i / (n - 1) for i in range(n)]

    def decode(
        self, examples: Sequence[TextExample], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        predictions = super().decode(examples, features, outputs)
        if self.regression:
            low, high = self.scale["low"], self.scale["high"]
            for p in predictions:
                p["polarity"] = 2.0 * (p[self.value_key] - low) / (high - low) - 1.0
        else:
            weights = self.polarity_weights()
            for p in predictions:
                # Expected polarity: P(positive) - P(negative) for two or three classes.
                p["polarity"] = sum(w * p["probabilities"][label] for w, label in zip(weights, self.labels))
        return predictions
