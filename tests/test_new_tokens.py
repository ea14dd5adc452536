"""Added tokens that can learn: how their embedding rows start (encoder.new_token_init)
and the learning rate they train at (train.new_token_lr)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer

from nlpkit.optim import train_new_rows_at
from nlpkit.testing import tiny_bert
from nlpkit.vocab import extend_vocabulary, grow_embeddings, known_pieces

ENGLISH = ["the quick brown fox jumps over the lazy dog .", "北 欢 dogs and foxes ."] * 10
CHINESE = ["北京欢迎你，上海也欢迎你。"] * 3


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("new-tokens"), ENGLISH, vocab_size=120)


def extended(model_dir: Path, init: str) -> tuple[nn.Module, object, int, torch.Tensor]:
    encoder, tokenizer = AutoModel.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    old = encoder.get_input_embeddings().weight.detach().clone()
    assert extend_vocabulary(tokenizer, CHINESE, min_count=1) >= 7  # 京 迎 你 上 海 也 ，…
    first_new = grow_embeddings(encoder, tokenizer, init, seed=0)  # type: ignore[arg-type]
    return encoder, tokenizer, first_new, old


def test_normal_rows_are_as_large_and_as_different_as_the_old_ones(model_dir: Path) -> None:
    encoder, tokenizer, first_new, old = extended(model_dir, "normal")
    weight = encoder.get_input_embeddings().weight.detach()
    assert first_new == old.shape[0] and weight.shape[0] == len(tokenizer)
    assert torch.equal(weight[:first_new], old)  # the learned rows are untouched
    new = weight[first_new:]
    old_norm, new_norm = old.norm(dim=1).mean(), new.norm(dim=1).mean()
    assert 0.7 * old_norm < new_norm < 1.3 * old_norm
    cosine = nn.functional.cosine_similarity(new.unsqueeze(0), new.unsqueeze(1), dim=-1)
    off_diagonal = cosine[~torch.eye(len(new), dtype=torch.bool)]
    assert off_diagonal.abs().mean() < 0.5  # not one vector repeated
    again, _, _, _ = extended(model_dir, "normal")
    assert torch.equal(again.get_input_embeddings().weight, encoder.get_input_embeddings().weight)  # seeded


def test_mean_puts_every_new_row_at_the_old_rows_mean(model_dir: Path) -> None:
    encoder, _, first_new, old = extended(model_dir, "mean")
    new = encoder.get_input_embeddings().weight.detach()[first_new:]
    assert torch.allclose(new, old.mean(dim=0).expand_as(new), atol=1e-6)


def test_pieces_start_from_the_known_pieces_else_drawn(model_dir: Path) -> None:
    encoder, tokenizer = AutoModel.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    old = encoder.get_input_embeddings().weight.detach().clone()
    vocab = tokenizer.get_vocab()
    # "北欢" is [UNK] as one word; its characters are known pieces. "龍" is known to nothing.
    assert known_pieces(tokenizer, "北欢") == [vocab["北"], vocab["欢"]] and known_pieces(tokenizer, "龍") == []
    tokenizer.add_tokens(["北欢", "龍"])
    first_new = grow_embeddings(encoder, tokenizer, "pieces", seed=0)
    weight = encoder.get_input_embeddings().weight.detach()
    added = tokenizer.get_added_vocab()
    assert torch.allclose(weight[added["北欢"]], (old[vocab["北"]] + old[vocab["欢"]]) / 2)
    drawn = weight[added["龍"]]
    assert added["龍"] >= first_new and 0.5 * old.norm(dim=1).mean() < drawn.norm() < 2 * old.norm(dim=1).mean()


def test_nothing_added_leaves_the_encoder_as_it_was(model_dir: Path) -> None:
    encoder, tokenizer = AutoModel.from_pretrained(model_dir), AutoTokenizer.from_pretrained(model_dir)
    rows = encoder.get_input_embeddings().num_embeddings
    assert grow_embeddings(encoder, tokenizer) == rows == encoder.get_input_embeddings().num_embeddings


def test_new_rows_step_exactly_as_adamw_at_their_own_rate() -> None:
    """Scaling the new rows' change after each step equals AdamW (with decay) at factor x lr."""
    torch.manual_seed(0)
    start = torch.randn(10, 4)
    shared = nn.Parameter(start.clone())
    optimizer = torch.optim.AdamW([shared], lr=1e-2, weight_decay=0.1)
    train_new_rows_at(optimizer, shared, first_new=6, factor=5.0)
    old, new = nn.Parameter(start[:6].clone()), nn.Parameter(start[6:].clone())
    reference = torch.optim.AdamW(
        [{"params": [old], "lr": 1e-2}, {"params": [new], "lr": 5e-2}], weight_decay=0.1
    )
    for step in range(3):
        grad = torch.randn(10, 4, generator=torch.Generator().manual_seed(step))
        shared.grad, old.grad, new.grad = grad.clone(), grad[:6].clone(), grad[6:].clone()
        optimizer.step()
        reference.step()
    assert torch.allclose(shared.detach()[:6], old.detach(), atol=1e-6)
    assert torch.allclose(shared.detach()[6:], new.detach(), atol=1e-6)
    assert not torch.allclose(new.detach(), start[6:], atol=1e-3)  # they did move
