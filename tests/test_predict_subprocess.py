"""``echo "a great film" | nlpkit predict RUN --input -`` in a real process: one JSONL
row on stdout and nothing on stderr (transformers' load report included)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import train_tiny_classifier

from .helpers import child_env

pytestmark = pytest.mark.integration  # nlpkit runs in a subprocess


def test_piped_text_is_predicted_quietly(tiny_encoder: Path, tmp_path: Path) -> None:
    run_dir = train_tiny_classifier(tmp_path, tiny_encoder)
    env = child_env()
    env.pop("TRANSFORMERS_VERBOSITY", None)  # as a user's shell has it: transformers' own default
    result = subprocess.run(
        [sys.executable, "-m", "nlpkit", "predict", str(run_dir), "--input", "-"],
        input="a great film\n", env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["line"] == 1 and row["label"] in {"0", "1"} and set(row["probabilities"]) == {"0", "1"}
