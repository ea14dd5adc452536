"""The token head as ``BertForTokenClassification`` (``nlpkit export --format hf``).

The linear layer maps exactly. A CRF has no place in transformers: its scores go beside
the model in ``crf.safetensors``, and plain transformers decodes each piece by arg-max.
"""

from __future__ import annotations

from typing import Any, Sequence

from nlpkit.task import HfHead
from nlpkit_ner.heads import TokenClassifier

CRF_FILE = "crf.safetensors"
"""Beside the exported model: the CRF's transition scores, the scheme's constraints included."""


def token_hf_head(head: TokenClassifier, tags: Sequence[str]) -> HfHead:
    def compare(nlpkit: Any, batch: Any, output: Any) -> dict[str, Any]:
        import torch

        # Every piece labelled: the CRF, when there is one, decodes the whole sequence.
        ours = nlpkit({**batch, "label_mask": torch.ones_like(batch["input_ids"])})
        return {"logits": (ours["logits"], output.logits)}

    beside, notes = {}, ()
    if head.crf is not None:
        crf = head.crf
        beside = {CRF_FILE: {
            "transitions": (crf.transitions + crf.trans_penalty).detach(),  # [from, to]
            "start_transitions": (crf.start + crf.start_penalty).detach(),
            "end_transitions": (crf.end + crf.end_penalty).detach(),
        }}
        notes = (
            f"The model was trained with a CRF, which transformers has no class for. Plain transformers (and "
            f"`pipeline`) pick each piece's tag by arg-max over the logits, without it; `{CRF_FILE}` holds the CRF's "
            "scores (`transitions[from, to]`, `start_transitions`, `end_transitions`; transitions that the tag "
            "scheme forbids score -10000) for a Viterbi decoder over the logits of each word's first piece, which "
            "is how nlpkit decodes.",
        )
    return HfHead(
        architecture="BertForTokenClassification",
        auto_class="AutoModelForTokenClassification",
        weights={"classifier.weight": head.classifier.weight.detach(), "classifier.bias": head.classifier.bias.detach()},
        compare=compare,
        config={"id2label": dict(enumerate(tags)), "label2id": {tag: i for i, tag in enumerate(tags)}},
        pipeline="token-classification",
        beside=beside,
        notes=notes,
    )
