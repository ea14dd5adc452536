"""Checkpoints are data: nothing nlpkit loads can run code; they are written whole, beside
their place; and last.ckpt is written at every epoch's end as well as every N steps."""

from __future__ import annotations

import builtins
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

import nlpkit
from nlpkit.callbacks import SAFE_GLOBALS, load_checkpoint
from nlpkit.cli import main
from nlpkit.errors import RunDirError

from .helpers import same_weights


class Crash(Exception):
    pass


def crash_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """The next run dies after optimizer step ``step``, as a crash would (no save)."""
    import nlpkit.module as module

    def die(self, outputs, batch, batch_idx):  # type: ignore[no-untyped-def]
        if self.global_step == step:
            raise Crash

    monkeypatch.setattr(module.TaskModule, "on_train_batch_end", die)


def crashed_run(recipe: dict, monkeypatch: pytest.MonkeyPatch, step: int) -> Path:
    with monkeypatch.context() as patch:
        crash_at(patch, step)
        with pytest.raises(Crash):
            nlpkit.run(recipe)
    return Path(recipe["output"]["dir"])


class Planted:
    """Unpickling it creates a file: what a malicious checkpoint would do (and worse)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (builtins.open, (str(self.marker), "w"))


def plant(path: Path, marker: Path) -> None:
    torch.save({"state_dict": {}, "epoch": 0, "payload": Planted(marker)}, path)


def test_our_checkpoints_hold_nothing_but_data(classification_recipe: dict) -> None:
    # Everything in them loads with weights_only=True and the allow-list (SAFE_GLOBALS):
    # early stopping, the best checkpoint, bf16, a step and an epoch-end last.ckpt.
    classification_recipe["train"].update(
        {"checkpoint_every_n_steps": 4, "early_stopping_patience": 3, "precision": "bf16-mixed"}
    )
    classification_recipe["output"]["keep_checkpoints"] = True
    out = nlpkit.run(classification_recipe).run_dir
    for name in ("last.ckpt", "best.ckpt"):
        path = out / "checkpoints" / name
        assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == [], name
        loaded = load_checkpoint(path)
        assert {"state_dict", "optimizer_states", "lr_schedulers", "callbacks", "loops", "nlpkit_rng_state",
                "nlpkit_train_loader"} <= set(loaded)
    assert SAFE_GLOBALS == ()


@pytest.mark.parametrize("name", ["last.ckpt", "best.ckpt"])
def test_resume_refuses_a_checkpoint_that_would_run_code(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    classification_recipe["train"]["checkpoint_every_n_steps"] = 2
    classification_recipe["output"]["keep_checkpoints"] = True
    out = crashed_run(classification_recipe, monkeypatch, 7)  # last.ckpt and best.ckpt of epoch 0
    marker = tmp_path / "code-ran"
    plant(out / "checkpoints" / name, marker)
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(classification_recipe))
    result = CliRunner().invoke(main, ["run", str(path), "--resume"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: {out / 'checkpoints' / name}: refused: it holds objects other than tensors and plain data (it names "
        "io.open), and loading those could run code; nlpkit checkpoints never hold any. Delete the file if it did "
        "not come from nlpkit, and start the run again with --overwrite"
    )
    assert not marker.exists()


def test_the_loader_itself_refuses_what_is_not_data(tmp_path: Path) -> None:
    # What Lightning (resume) and the best-model reload go through, whatever the scan said.
    marker = tmp_path / "code-ran"
    zipped = tmp_path / "planted.ckpt"
    plant(zipped, marker)
    with pytest.raises(RunDirError, match=rf"{zipped}: refused: it holds objects other than tensors and plain data "
                                          r"\(it names io.open\)"):
        load_checkpoint(zipped)
    import pickle

    raw = tmp_path / "raw.ckpt"  # a bare pickle, not torch.save's zip
    raw.write_bytes(pickle.dumps({"payload": Planted(marker)}, protocol=2))
    with pytest.raises(RunDirError, match=rf"{raw}: refused: it holds objects other than tensors and plain data"):
        load_checkpoint(raw)
    assert not marker.exists()


def test_a_damaged_checkpoint_is_an_error_that_says_so(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    classification_recipe["train"]["checkpoint_every_n_steps"] = 2
    out = crashed_run(classification_recipe, monkeypatch, 3)
    last = out / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:4000])  # cut short
    with pytest.raises(RunDirError, match=rf"{last} cannot be read as a checkpoint \(.*\): it is damaged or cut short; "
                                          r"start the run again with --overwrite"):
        nlpkit.run(classification_recipe, resume=True)


def test_checkpoints_are_written_beside_their_place_and_stale_partials_are_cleaned(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nlpkit.callbacks as callbacks

    written: list[Path] = []
    save = torch.save

    def spy(obj, target, *args, **kwargs):  # type: ignore[no-untyped-def]
        written.append(Path(target) if isinstance(target, (str, Path)) else Path("<buffer>"))
        return save(obj, target, *args, **kwargs)

    monkeypatch.setattr(callbacks.torch, "save", spy)
    classification_recipe["train"]["checkpoint_every_n_steps"] = 4
    out = crashed_run(classification_recipe, monkeypatch, 8)  # after epoch 0: best.ckpt too
    ckpts = out / "checkpoints"
    assert written and {p.parent for p in written} == {ckpts}
    assert {p.name.split(".partial")[0] for p in written} == {".last.ckpt", ".best.ckpt"}

    # A save killed midway (kill -9) leaves its partial; the next start cleans it.
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = ckpts / f".last.ckpt.partial{gone.pid}"
    stale.write_bytes(b"\0" * 1000)
    nlpkit.run(classification_recipe, resume=True)
    assert not stale.exists()


def test_an_epoch_end_checkpoint_saves_the_epoch_from_a_crash_early_in_the_next(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # train.checkpoint_every_n_steps is 200 (the default): no step checkpoint in this run.
    straight = nlpkit.run(classification_recipe, {"output.dir": str(tmp_path / "straight")})
    out = crashed_run(classification_recipe, monkeypatch, 8)  # 6 steps an epoch: early in epoch 1
    saved = load_checkpoint(out / "checkpoints" / "last.ckpt")
    assert (saved["epoch"], saved["global_step"]) == (0, 6)
    resumed = nlpkit.run(classification_recipe, resume=True)
    assert resumed.metrics["training"]["optimizer_steps"] == 12
    assert resumed.metrics["validation"] == straight.metrics["validation"]
    assert same_weights(tmp_path / "straight", out)
