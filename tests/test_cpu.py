"""The CPU fast paths compute what the standard kernels compute."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from nlpkit import cpu


def test_keep_mask_is_bernoulli_in_both_lanes_and_seeded() -> None:
    torch.manual_seed(0)
    mask = cpu.keep_mask((400_001,), 0.9)
    assert mask.dtype == torch.bool and mask.shape == (400_001,)
    # Even and odd elements come from the two halves of each 64-bit draw.
    for lane in (mask[0::2], mask[1::2]):
        assert abs(lane.float().mean().item() - 0.9) < 0.003  # ~6 standard deviations
    torch.manual_seed(0)
    assert torch.equal(cpu.keep_mask((400_001,), 0.9), mask)
    assert cpu.keep_mask((3, 5), 0.5).shape == (3, 5)  # odd element counts too
    assert not cpu.keep_mask((10_000,), 1e-9).any()


def test_dropout_scales_the_kept_elements_and_passes_gradients() -> None:
    torch.manual_seed(1)
    x = torch.full((200, 300), 2.0, requires_grad=True)
    y = cpu.dropout(x, 0.25)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.01
    assert torch.allclose(y[kept], torch.tensor(2.0 / 0.75))
    y.sum().backward()
    assert torch.allclose(x.grad[kept], torch.tensor(1 / 0.75)) and (x.grad[~kept] == 0).all()


def test_dropout_module_is_identity_in_eval_and_keeps_its_rate() -> None:
    module = nn.Dropout(0.3)
    module.__class__ = cpu.Dropout
    x = torch.randn(50, 40)
    assert torch.equal(module.eval()(x), x)
    out = module.train()(x)
    assert 0.25 < (out == 0).float().mean().item() < 0.35


@pytest.mark.parametrize("length", [12, cpu.SDPA_MIN_LENGTH + 8])
def test_encoder_outputs_match_the_standard_attention(tiny_encoder: Path, length: int) -> None:
    from transformers import AutoModel

    from nlpkit.model import TaskModel

    standard = AutoModel.from_pretrained(tiny_encoder, attn_implementation="sdpa").eval()
    fast = TaskModel(AutoModel.from_pretrained(tiny_encoder), nn.Identity()).encoder.eval()
    assert fast.config._attn_implementation == cpu.ATTENTION
    ids = torch.randint(5, 60, (3, length))
    mask = torch.ones_like(ids)
    mask[1, length // 2 :] = 0  # padding: masked keys
    with torch.no_grad():
        a = standard(input_ids=ids, attention_mask=mask).last_hidden_state
        b = fast(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(a[real], b[real], atol=1e-5)


def test_training_attention_drops_probabilities_at_the_configured_rate() -> None:
    module = nn.Module().train()
    torch.manual_seed(3)
    q, k, v = (torch.randn(2, 4, 16, 8) for _ in range(3))
    _, probs = cpu.attention(module, q, k, v, None, dropout=0.5)
    assert probs is not None and abs((probs == 0).float().mean().item() - 0.5) < 0.05
    _, eval_probs = cpu.attention(module.eval(), q, k, v, None, dropout=0.0)
    assert eval_probs is not None and torch.allclose(eval_probs.sum(-1), torch.ones(2, 4, 16))


def test_fast_paths_can_be_switched_off(tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import AutoModel

    from nlpkit.model import TaskModel

    monkeypatch.setenv("NLPKIT_CPU_FAST_PATHS", "0")
    model = TaskModel(AutoModel.from_pretrained(tiny_encoder), nn.Identity())
    assert model.encoder.config._attn_implementation != cpu.ATTENTION
    assert not any(isinstance(m, cpu.Dropout) for m in model.modules())
    assert cpu.keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_memory_is_handed_back_once_resident_memory_passes_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPKIT_CPU_FAST_PATHS", "1")
    assert cpu.keep_freed_memory()
    # Start from a trimmed heap: memory that earlier tests freed (and the process kept)
    # would otherwise take the block below without the resident size growing.
    cpu.KeptMemoryLimit(limit=0).check()
    before = cpu.resident_bytes()
    block = torch.ones(96 * 2**20 // 4)  # 96 MB: from the heap, mmap is off
    del block
    kept = cpu.resident_bytes()
    assert kept - before > 64 * 2**20  # freed, but kept in the process

    assert not cpu.KeptMemoryLimit(limit=kept + 2**30).check()
    assert cpu.resident_bytes() > before + 64 * 2**20
    limit = cpu.KeptMemoryLimit(limit=before + 32 * 2**20)
    assert limit.check() and limit.trims == 1
    assert cpu.resident_bytes() < kept - 64 * 2**20


def test_the_memory_limit_is_three_quarters_of_what_the_process_may_use() -> None:
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < cpu.memory_limit() <= total * 3 // 4
