"""SIGTERM (kill, a scheduler's time limit, docker stop) stops a run as Ctrl-C does: in
training it finishes the step, saves it for --resume and exits 143; elsewhere it stops
at once with a message and exit code 143. Integration: the signal reaches `nlpkit run`
in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import nlpkit

from .helpers import child_env, same_weights

pytestmark = pytest.mark.integration  # each test runs nlpkit in a subprocess

TERMINATOR = textwrap.dedent(
    """
    import os, signal, sys
    import nlpkit.cli, nlpkit.data as d, nlpkit.module as m

    recipe, where, step = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def term():
        os.kill(os.getpid(), signal.SIGTERM)  # as kill PID, or a scheduler's time limit

    if where == "step":
        def term_at(self, outputs, batch, batch_idx):
            if self.global_step == step:
                term()
        m.TaskModule.on_train_batch_end = term_at
    elif where == "validation":
        validation_step = m.TaskModule.validation_step
        def term_then_validate(self, batch, batch_idx):
            if self.global_step == step and batch_idx == 0:
                term()
            return validation_step(self, batch, batch_idx)
        m.TaskModule.validation_step = term_then_validate
    else:
        d.encode_split = lambda *args, **kwargs: term()
    sys.argv = ["nlpkit", "run", recipe]
    nlpkit.cli.main()
    """
)


def terminate(recipe_path: Path, where: str, step: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", TERMINATOR, str(recipe_path), where, str(step)],
                          env=child_env(), capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("where", "step", "saved_at"), [
    ("step", 7, 8),  # in step 7's hook: step 8 is finished and saved
    ("validation", 6, 7),  # in the end-of-epoch validation: it ends, and so does step 7
])
def test_sigterm_while_training_saves_the_step_and_resume_loses_nothing(
    classification_recipe: dict, tmp_path: Path, where: str, step: int, saved_at: int
) -> None:
    recipe_path = tmp_path / "term.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    straight = nlpkit.run(classification_recipe, {"output.dir": str(tmp_path / "straight")})

    stopped = terminate(recipe_path, where, step)
    out = Path(classification_recipe["output"]["dir"])
    last = out / "checkpoints" / "last.ckpt"
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert "nlpkit: SIGTERM: stopping after this training step" in stopped.stderr
    assert stopped.stderr.rstrip().endswith(
        f"stopped: terminated (SIGTERM) after step {saved_at}, saved to {last}; the same command with --resume "
        "continues from there"
    )
    assert "Traceback" not in stopped.stderr and last.exists() and not (out / "metrics.json").exists()

    resumed = nlpkit.run(recipe_path, resume=True)
    assert resumed.metrics["training"]["optimizer_steps"] == 12
    assert resumed.metrics["validation"] == straight.metrics["validation"]
    assert same_weights(tmp_path / "straight", out)


def test_sigterm_before_training_stops_at_once_and_says_the_same_command_starts_again(
    classification_recipe: dict, tmp_path: Path
) -> None:
    recipe_path = tmp_path / "term.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    stopped = terminate(recipe_path, "tokenizing")
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert stopped.stderr.rstrip().endswith(
        "stopped: terminated (SIGTERM) before a checkpoint was saved; the same command starts the run again"
    )
    assert "Traceback" not in stopped.stderr
    assert nlpkit.run(recipe_path).metrics["validation"]  # as it says
