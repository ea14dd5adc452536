"""Parameter groups: no weight decay on biases/LayerNorm; layer-wise learning rates."""

from __future__ import annotations

from pathlib import Path

from torch import nn
from transformers import AutoModel

from nlpkit.optim import parameter_groups
from nlpkit.recipe import TrainSection


def test_groups_exclude_bias_and_layernorm_from_decay_and_decay_lr_by_depth(tiny_encoder: Path) -> None:
    encoder = AutoModel.from_pretrained(tiny_encoder)
    head = nn.Linear(32, 2)
    train = TrainSection(lr=1e-3, weight_decay=0.1, layer_lr_decay=0.5, head_lr=5e-3)
    groups = parameter_groups(encoder, head, train)
    by_param = {id(p): g for g in groups for p in g["params"]}
    named = dict(encoder.named_parameters())
    assert by_param[id(named["encoder.layer.1.attention.self.query.bias"])]["weight_decay"] == 0.0
    assert by_param[id(named["encoder.layer.1.attention.output.LayerNorm.weight"])]["weight_decay"] == 0.0
    assert by_param[id(named["encoder.layer.1.attention.self.query.weight"])]["weight_decay"] == 0.1
    # 2 layers: the top layer gets lr * 0.5, the one below 0.25, embeddings 0.125.
    assert by_param[id(named["encoder.layer.1.output.dense.weight"])]["lr"] == 1e-3 * 0.5
    assert by_param[id(named["encoder.layer.0.output.dense.weight"])]["lr"] == 1e-3 * 0.25
    assert by_param[id(named["embeddings.word_embeddings.weight"])]["lr"] == 1e-3 * 0.125
    assert by_param[id(head.weight)]["lr"] == 5e-3
    assert sum(len(g["params"]) for g in groups) == len(named) + 2
