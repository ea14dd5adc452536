"""Distributed data parallel on two CPU processes (`nlpkit run` in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import read_jsonl


pytestmark = pytest.mark.integration  # each test runs nlpkit in a subprocess


def test_ddp_on_two_cpu_processes_trains_to_the_end(classification_recipe: dict, tmp_path: Path) -> None:
    recipe_path = tmp_path / "ddp.yaml"
    recipe_path.write_text(yaml.safe_dump(classification_recipe))
    result = subprocess.run(
        [sys.executable, "-m", "nlpkit", "run", str(recipe_path),
         "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = Path(classification_recipe["output"]["dir"])
    metrics = json.loads((out / "metrics.json").read_text())
    # 48 examples over 2 processes with batch 8: 3 steps an epoch, 2 epochs.
    assert metrics["training"]["optimizer_steps"] == 6
    assert metrics["validation"]["per_class"]["0"]["support"] + metrics["validation"]["per_class"]["1"]["support"] == 16
    # Validation metrics were computed on all 16 rows gathered from both processes.
    log_lines = (out / "train.log").read_text().splitlines()
    assert sum("epoch 1, step 6" in line for line in log_lines) == 1  # written once, by rank 0
    assert len(read_jsonl(out / "predictions/validation.jsonl")) == 16
