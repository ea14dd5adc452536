"""Transformers classes for the nlpkit heads that transformers has none for.

A sequence head that pools the mean of the token states or the bare [CLS] state (nlpkit's
``head.pooling: mean | cls``) has no exact class in transformers: its
``BertForSequenceClassification`` always pools through BERT's pooler (a dense layer and
tanh over [CLS]). An export of such a head ships this file and registers it in
``config.json`` (``auto_map``), with a model type of its own (``nlpkit_bert``) so that
transformers refuses to load it without ``trust_remote_code=True`` rather than load its
own class with a random pooler.

The file is copied as it is into the export: it imports only torch and transformers.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import BertConfig, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class NlpkitBertConfig(BertConfig):
    """BERT's configuration with the pooling of the sequence head: ``mean`` or ``cls``."""

    model_type = "nlpkit_bert"

    def __init__(self, pooling: str = "mean", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pooling = pooling


class NlpkitBertForSequenceClassification(BertPreTrainedModel):
    """BERT, a pooling of its last hidden states (``config.pooling``), dropout and a
    linear layer: nlpkit's sequence head. Outputs and losses as in
    ``BertForSequenceClassification`` (``problem_type``: single-label, multi-label or
    regression)."""

    config_class = NlpkitBertConfig

    def __init__(self, config: NlpkitBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        outputs = self.bert(
            input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, position_ids=position_ids,
            inputs_embeds=inputs_embeds, return_dict=True, **kwargs,
        )
        logits = self.classifier(self.dropout(self.pool(outputs.last_hidden_state, attention_mask)))
        loss = None if labels is None else self.loss(logits, labels)
        return SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )

    def pool(self, states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The [CLS] state, or the mean of the real (unpadded) tokens' states."""
        if self.config.pooling == "cls":
            return states[:, 0]
        if attention_mask is None:
            return states.mean(dim=1)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        kind = self.config.problem_type
        if kind == "regression":
            return nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
        if kind == "multi_label_classification":
            return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        return nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
