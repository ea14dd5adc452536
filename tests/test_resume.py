"""--resume after a crash (SIGKILL): the resumed run trains on the batches, and with the
weights, of an uninterrupted one. Integration: the crash happens in a subprocess."""

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


KILLER = textwrap.dedent(
    """
    import json, os, signal, sys
    import nlpkit, nlpkit.module as m

    def die_at(self, outputs, batch, batch_idx):
        with open(sys.argv[3], "a") as trained:
            trained.write(json.dumps(batch["feature_index"].tolist()) + "\\n")
        if self.global_step == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, as with a real crash

    m.TaskModule.on_train_batch_end = die_at
    nlpkit.run(sys.argv[1])
    """
)


# 12 steps an epoch.
@pytest.mark.parametrize(("workers", "every", "killed_at", "saved_at"), [
    (0, 5, 17, 15),  # mid-epoch: two steps after the checkpoint of step 15
    (2, 5, 17, 15),  # the same with loader workers
    (0, 6, 14, 12),  # checkpointed at the last step of the first epoch
])
def test_resume_after_sigkill_trains_on_the_batches_of_an_uninterrupted_run(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    workers: int, every: int, killed_at: int, saved_at: int,
) -> None:
    import nlpkit.module as module

    trained: list[list[int]] = []  # the examples of each optimizer step, in order
    monkeypatch.setattr(module.TaskModule, "on_train_batch_end",
                        lambda self, outputs, batch, i: trained.append(batch["feature_index"].tolist()))
    classification_recipe["train"].update(
        {"epochs": 3, "batch_size": 4, "checkpoint_every_n_steps": every, "num_workers": workers}
    )
    recipe_path = tmp_path / "resume.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    uninterrupted = nlpkit.run(classification_recipe, ["output.dir=" + str(tmp_path / "straight")])
    straight, trained[:] = list(trained), []

    env = child_env()
    before_kill = tmp_path / "killed.jsonl"
    killed = subprocess.run([sys.executable, "-c", KILLER, str(recipe_path), str(killed_at), str(before_kill)],
                            env=env, capture_output=True, timeout=300)
    assert killed.returncode == -9
    out = Path(classification_recipe["output"]["dir"])
    assert (out / "checkpoints/last.ckpt").exists() and not (out / "metrics.json").exists()

    resumed = nlpkit.run(recipe_path, resume=True)
    assert resumed.metrics["training"]["optimizer_steps"] == uninterrupted.metrics["training"]["optimizer_steps"] == 36
    # The steps up to the checkpoint come from it; the resumed run goes on with the next
    # step of the same order: every example once per epoch, none twice, as without the crash.
    checkpointed = [json.loads(line) for line in before_kill.read_text().splitlines()][:saved_at]
    assert checkpointed == straight[:saved_at]
    assert trained == straight[saved_at:]
    if workers == 0:  # and the same random draws: the very weights of the uninterrupted run
        assert same_weights(tmp_path / "straight", out)
    assert (out / "logs/metrics.part1.csv").exists()  # the interrupted part of the log is kept
