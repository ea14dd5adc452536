"""``task: sentiment``: polarity classification with a polarity score, or rating regression."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence, cast

from nlpkit.readers import Column
from nlpkit.recipe import DataSection, HeadSection
from nlpkit.task import Feature, TaskSettings
from nlpkit_classification.labels import ClassLabels, label_order, spread
from nlpkit_classification.sequence import SequenceTask
from nlpkit_classification.task import ClassificationData, TextExample
from nlpkit_classification.texts import ROW_KEYS, TextInputs
from nlpkit_pair.common import LabelMapOption, ScoredHead, map_label, scored_labels

# Label words in polarity order; labels outside this list keep numeric/alphabetic order.
POLARITY_WORDS = ("very negative", "negative", "neg", "neutral", "neu", "positive", "pos", "very positive")


class SentimentData(ClassificationData, LabelMapOption):
    """The classification data keys, plus ``label_map``. The label order is the polarity
    order, most negative first: ``data.labels`` when given, else known words
    (negative < neutral < positive), then other ``label_map`` names in the map's order,
    then numbers ascending."""


class SentimentTask(SequenceTask[TextExample]):
    """Texts with polarity classes (in polarity order) or ratings (a scale); every
    prediction carries ``polarity`` in [-1, 1], its position on that order or scale."""

    name: ClassVar[str] = "sentiment"
    DataOptions: ClassVar[type[DataSection]] = SentimentData
    HeadOptions: ClassVar[type[HeadSection]] = ScoredHead
    monitor: ClassVar[str] = "accuracy"
    row_keys: ClassVar[tuple[str, ...]] = ROW_KEYS

    def __init__(self, settings: TaskSettings) -> None:
        data = cast(SentimentData, settings.data)
        source = settings.source

        def classes() -> ClassLabels:
            return ClassLabels(data.labels, pattern=data.label_regex, order=self.polarity_order, source=source)

        labels = scored_labels(cast(ScoredHead, settings.head), classes, value_key="rating", source=source)
        super().__init__(settings, TextInputs(data, self.name), labels)

    def parse_label(self, raw: Any, column: Column, kind: str = "column") -> Any:
        return self.strategy.parse(map_label(self.settings.data.label_map, raw, column, kind), column, kind)

    def polarity_order(self, label: str) -> tuple[int, int, tuple[int, float, str]]:
        """Sort key of the training labels: known words, then other ``label_map`` names
        in the map's order, then :func:`label_order` (which also breaks ties)."""
        if label.lower() in POLARITY_WORDS:
            return (0, POLARITY_WORDS.index(label.lower()), label_order(label))
        names = list(dict.fromkeys((self.settings.data.label_map or {}).values()))
        if label in names:
            return (1, names.index(label), label_order(label))
        return (2, 0, label_order(label))

    def polarity_weights(self) -> list[float]:
        """-1 for the most negative label, +1 for the most positive, evenly spaced between."""
        return spread(len(self.labels))

    def decode(
        self, examples: Sequence[TextExample], features: Sequence[Feature], outputs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        predictions = super().decode(examples, features, outputs)
        for p in predictions:
            # Classes: P(positive) - P(negative) for two or three; ratings: along head.range.
            p["polarity"] = self.strategy.position(p)
        return predictions
