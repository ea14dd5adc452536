"""Sequence heads as transformers classes (``nlpkit export --format hf``).

BERT's pooler (``head.pooling: pooler``) maps exactly onto ``BertForSequenceClassification``;
mean and [CLS] pooling have no transformers class, so they map onto nlpkit's
``NlpkitBertForSequenceClassification`` (shipped with the export, ``trust_remote_code``).
A scale's standardisation is folded into the linear layer, so that the exported logit is
the score on the labels' own scale.
"""

from __future__ import annotations

from typing import Any

from nlpkit.task import HfHead
from nlpkit_classification.heads import SequenceHead
from nlpkit_classification.labels import LabelStrategy, ScaleLabels


def sequence_hf_head(head: SequenceHead, strategy: LabelStrategy) -> HfHead:
    weight, bias = head.out.weight.detach(), head.out.bias.detach()
    std, mean = 1.0, 0.0
    notes: tuple[str, ...] = ()
    if isinstance(strategy, ScaleLabels):
        std, mean = strategy.scale["std"], strategy.scale["mean"]
        weight, bias = weight * std, bias * std + mean  # the score on the labels' scale
        config: dict[str, Any] = {"problem_type": "regression", "id2label": {0: strategy.value_key}}
        notes = (f"The logit is the predicted {strategy.value_key} itself; nlpkit also clips it to "
                 f"[{strategy.scale['low']:g}, {strategy.scale['high']:g}], the training labels' range.",)
    else:
        multi = getattr(strategy, "multi_label", False)
        config = {
            "problem_type": "multi_label_classification" if multi else "single_label_classification",
            "id2label": dict(enumerate(strategy.labels)),
        }
        if multi:
            notes = (f"Multi-label: a label applies where its sigmoid reaches {strategy.threshold:g} "  # type: ignore[attr-defined]
                     "(nlpkit's threshold).",)
    config["num_labels"] = len(config["id2label"])
    config["label2id"] = {label: i for i, label in config["id2label"].items()}
    exact = head.pooling == "pooler"
    if not exact:
        config["pooling"] = head.pooling

    def compare(nlpkit: Any, batch: Any, output: Any) -> dict[str, Any]:
        return {"logits": (nlpkit(batch) * std + mean, output.logits)}

    return HfHead(
        architecture="BertForSequenceClassification" if exact else "NlpkitBertForSequenceClassification",
        auto_class="AutoModelForSequenceClassification",
        weights={"classifier.weight": weight, "classifier.bias": bias},
        compare=compare,
        config=config,
        pipeline="text-classification",
        notes=notes,
    )
