"""Ctrl-C during a run: in a step, in the final validation, before training, twice; each
says what is kept, exits 130, and the same command (with --resume) goes on. Integration:
the Ctrl-C reaches `nlpkit run` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import nlpkit

from .helpers import child_env, same_weights


pytestmark = pytest.mark.integration  # each test runs nlpkit in a subprocess


INTERRUPTER = textwrap.dedent(
    """
    import json, os, signal, sys
    import nlpkit.cli, nlpkit.module as m

    recipe, step, record = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    presses = int(sys.argv[4]) if len(sys.argv) > 4 else 1

    def ctrl_c_at(self, outputs, batch, batch_idx):
        with open(record, "a") as trained:
            trained.write(json.dumps(batch["feature_index"].tolist()) + "\\n")
        if self.global_step == step:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C in the terminal

    m.TaskModule.on_train_batch_end = ctrl_c_at
    sys.argv = ["nlpkit", "run", recipe]
    nlpkit.cli.main()
    """
)


def test_ctrl_c_saves_the_step_under_way_and_resume_loses_nothing(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nlpkit.module as module

    trained: list[list[int]] = []
    monkeypatch.setattr(module.TaskModule, "on_train_batch_end",
                        lambda self, outputs, batch, i: trained.append(batch["feature_index"].tolist()))
    classification_recipe["train"].update({"epochs": 3, "batch_size": 4, "checkpoint_every_n_steps": 5})
    recipe_path = tmp_path / "interrupt.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    nlpkit.run(classification_recipe, ["output.dir=" + str(tmp_path / "straight")])
    straight, trained[:] = list(trained), []

    # Ctrl-C during step 7 (after its batch hook): step 8 is finished and saved, though the
    # periodic checkpoint is at step 5.
    before = tmp_path / "before.jsonl"
    stopped = subprocess.run([sys.executable, "-c", INTERRUPTER, str(recipe_path), "7", str(before)],
                             env=child_env(), capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    out = Path(classification_recipe["output"]["dir"])
    assert f"stopped: interrupted after step 8, saved to {out / 'checkpoints' / 'last.ckpt'}" in stopped.stderr
    assert "Traceback" not in stopped.stderr and not (out / "metrics.json").exists()
    assert [json.loads(line) for line in before.read_text().splitlines()] == straight[:7]

    resumed = nlpkit.run(recipe_path, resume=True)
    training = resumed.metrics["training"]
    assert training["optimizer_steps"] == 36
    # Throughput over the resumed part only: 28 batches of 4 in the time they took.
    assert 0 < training["train_seconds"] < training["wall_seconds"]
    # (train_seconds is rounded to 0.01 s, and these 28 steps take ~0.2 s)
    assert training["train_examples_per_second"] == pytest.approx(28 * 4 / training["train_seconds"], rel=0.1)
    assert trained == straight[8:]  # from step 9 on: step 8 was trained before the stop
    assert same_weights(tmp_path / "straight", out)


CTRL_C_IN_LAST_VALIDATION = textwrap.dedent(
    """
    import os, signal, sys
    import nlpkit.cli, nlpkit.module as m

    recipe, last = sys.argv[1], int(sys.argv[2])
    validation_step = m.TaskModule.validation_step

    def ctrl_c_then_validate(self, batch, batch_idx):
        if self.global_step == last and batch_idx == 0:
            os.kill(os.getpid(), signal.SIGINT)
        return validation_step(self, batch, batch_idx)

    m.TaskModule.validation_step = ctrl_c_then_validate
    sys.argv = ["nlpkit", "run", recipe]
    nlpkit.cli.main()
    """
)


def test_ctrl_c_during_the_final_validation_stops_and_resume_only_exports(
    classification_recipe: dict, tmp_path: Path
) -> None:
    recipe_path = tmp_path / "interrupt.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    stopped = subprocess.run([sys.executable, "-c", CTRL_C_IN_LAST_VALIDATION, str(recipe_path), "12"],
                             env=child_env(), capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "stopped: interrupted after step 12" in stopped.stderr
    out = Path(classification_recipe["output"]["dir"])
    assert not (out / "metrics.json").exists()
    resumed = nlpkit.run(recipe_path, resume=True)
    assert resumed.metrics["training"]["optimizer_steps"] == 12 and resumed.metrics["validation"]


CTRL_C_WHILE_TOKENIZING = textwrap.dedent(
    """
    import os, signal, sys
    import nlpkit.cli, nlpkit.data as d

    # Ctrl-C in a terminal: Python's own handler, even where this test runs in a
    # background job (which starts with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def ctrl_c(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)

    d.encode_split = ctrl_c
    sys.argv = ["nlpkit", "run", sys.argv[1]]
    nlpkit.cli.main()
    """
)


def test_ctrl_c_before_training_says_the_same_command_starts_again(classification_recipe: dict, tmp_path: Path) -> None:
    recipe_path = tmp_path / "interrupt.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    stopped = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_TOKENIZING, str(recipe_path)],
                             env=child_env(), capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert stopped.stderr.rstrip().endswith(
        "stopped: interrupted before a checkpoint was saved; the same command starts the run again"
    )
    assert "Traceback" not in stopped.stderr and "Aborted" not in stopped.stderr
    assert nlpkit.run(recipe_path).metrics["validation"]  # as it says


def test_a_second_ctrl_c_stops_at_once_and_names_the_checkpoint_to_resume_from(
    classification_recipe: dict, tmp_path: Path
) -> None:
    classification_recipe["train"].update({"checkpoint_every_n_steps": 5})
    recipe_path = tmp_path / "interrupt.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    # Lightning's own answer to a KeyboardInterrupt is sys.exit(1) with no word of what is kept.
    presses = ["7", str(tmp_path / "before.jsonl"), "2"]  # two Ctrl-C in the hook of step 7
    stopped = subprocess.run([sys.executable, "-c", INTERRUPTER, str(recipe_path), *presses],
                             env=child_env(), capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    last = Path(classification_recipe["output"]["dir"]) / "checkpoints" / "last.ckpt"
    assert stopped.stderr.rstrip().endswith(
        f"stopped: interrupted; {last} holds the last saved step: the same command with --resume continues from there"
    )
    resumed = nlpkit.run(recipe_path, resume=True)
    assert resumed.metrics["training"]["optimizer_steps"] == 12
