"""``NerMetric``: the task's ``evaluate.Metric`` (seqeval behind it, never loaded by name).

Loading seqeval's metric script by name needs the hub; this module defines the metric locally::

    from nlpkit_ner.metric import NerMetric
    NerMetric(mode="conlleval").compute(predictions=[["B-PER", "O"]], references=[["B-PER", "O"]])
"""

from __future__ import annotations

from typing import Any

import datasets
import evaluate

from nlpkit_ner import scoring

_DESCRIPTION = (
    "Entity-level precision, recall and F1 (micro, macro, per entity type) of tag sequences, "
    "through seqeval. mode='conlleval' reads entities as the CoNLL conlleval script does (any "
    "scheme, IOB1 included); mode='strict' counts only entities valid in `scheme`."
)


class NerMetric(evaluate.Metric):
    """``compute(predictions, references, mode=..., scheme=...)`` -> :func:`scoring.score`."""

    def __init__(self, mode: scoring.Mode = "conlleval", scheme: str = "iob2", **kwargs: Any) -> None:
        self.mode = mode
        self.scheme = scheme
        kwargs.setdefault("keep_in_memory", True)  # no Arrow cache files on disk
        super().__init__(**kwargs)

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="seqeval (Nakayama 2018); conlleval (Tjong Kim Sang, CoNLL-2000/2003)",
            inputs_description="predictions, references: lists of tag sequences (lists of str)",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(
        self, predictions: Any, references: Any, mode: str | None = None, scheme: str | None = None
    ) -> dict[str, Any]:
        return scoring.score(references, predictions, mode or self.mode, scheme or self.scheme)  # type: ignore[arg-type]
