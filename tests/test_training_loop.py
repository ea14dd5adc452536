"""What the fine-tune loop does on a tiny random BERT: it learns, it is seeded, dropout is
on, bf16 clips with the fused AdamW, a frozen encoder stays put, training time is timed."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlpkit

from .helpers import read_jsonl


def test_the_tiny_model_learns_the_toy_task(classification_recipe: dict) -> None:
    classification_recipe["train"]["epochs"] = 6
    result = nlpkit.run(classification_recipe)
    assert result.metrics["validation"]["accuracy"] >= 0.9


def test_bf16_training_uses_the_fused_adamw_and_clips_every_step(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lightning refuses to clip for a fused optimizer under mixed precision (a guard
    # meant for fp16's grad scaler); bf16 has no scaler, so nlpkit clips itself.
    import torch

    import nlpkit.module as module

    classification_recipe["train"].update(precision="bf16-mixed", max_grad_norm=0.05)
    fused: list[bool] = []
    norms: list[tuple[float, float]] = []
    configure = module.TaskModule.configure_optimizers
    clip = torch.nn.utils.clip_grad_norm_

    def configure_spy(self):  # type: ignore[no-untyped-def]
        config = configure(self)
        fused.append(bool(config["optimizer"].defaults["fused"]))
        return config

    def clip_spy(params, max_norm, *args, **kwargs):  # type: ignore[no-untyped-def]
        params = [p for p in params if p.grad is not None]
        before = clip(params, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        norms.append((float(before), float(after)))
        return before

    monkeypatch.setattr(module.TaskModule, "configure_optimizers", configure_spy)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip_spy)
    nlpkit.run(classification_recipe)
    assert fused == [True]
    assert len(norms) == 12  # every optimizer step: 48 examples / batch 8, 2 epochs
    assert any(before > 0.05 for before, _ in norms)  # clipping had work to do
    assert all(after <= 0.05 * 1.01 for _, after in norms)


def test_same_seed_same_results(classification_recipe: dict, tmp_path: Path) -> None:
    first = nlpkit.run(classification_recipe)
    classification_recipe["output"]["dir"] = str(tmp_path / "second")
    second = nlpkit.run(classification_recipe)
    assert first.metrics["validation"] == second.metrics["validation"]
    assert read_jsonl(first.run_dir / "predictions/test.jsonl") == read_jsonl(second.run_dir / "predictions/test.jsonl")


def test_dropout_is_active_while_training(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlpkit.module as module

    seen: list[bool] = []
    original = module.TaskModule.training_step

    def spy(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        seen.append(all(m.training for m in self.model.encoder.modules()))
        return original(self, batch, batch_idx)

    monkeypatch.setattr(module.TaskModule, "training_step", spy)
    nlpkit.run(classification_recipe)
    assert seen and all(seen)


def test_freeze_encoder_trains_the_head_only(classification_recipe: dict, tiny_encoder: Path) -> None:
    from safetensors.torch import load_file

    classification_recipe["train"]["freeze_encoder"] = True
    frozen = nlpkit.run(classification_recipe)
    assert frozen.metrics["training"]["optimizer_steps"] == 12
    before = load_file(tiny_encoder / "model.safetensors")
    after = load_file(frozen.run_dir / "model" / "model.safetensors")
    shared = [k for k in after if k in before]
    assert shared and all(before[k].equal(after[k]) for k in shared)


def test_training_time_leaves_out_mid_epoch_validation(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake clock: each training step takes 1 s, each validation batch 100 s.
    import nlpkit.callbacks as callbacks
    import nlpkit.module as module

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    training_step, validation_step = module.TaskModule.training_step, module.TaskModule.validation_step

    def timed_training_step(self, *args):  # type: ignore[no-untyped-def]
        clock[0] += 1.0
        return training_step(self, *args)

    def timed_validation_step(self, *args):  # type: ignore[no-untyped-def]
        clock[0] += 100.0
        return validation_step(self, *args)

    monkeypatch.setattr(module.TaskModule, "training_step", timed_training_step)
    monkeypatch.setattr(module.TaskModule, "validation_step", timed_validation_step)
    classification_recipe["trainer"] = {"val_check_interval": 0.5}
    result = nlpkit.run(classification_recipe)
    training = result.metrics["training"]
    assert training["optimizer_steps"] == 12  # 48 examples / batch 8, 2 epochs, validated 4 times
    assert training["train_seconds"] == 12.0
    assert training["train_examples_per_second"] == 8.0
