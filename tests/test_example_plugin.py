"""The plugin guide's example package: installed like any third-party plugin, listed,
and trained through a recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

pytestmark = pytest.mark.integration  # pip installs the package and runs nlpkit in subprocesses

EXAMPLE = REPO / "docs" / "example-plugin"
TEXT = [
    "Angela Merkel visited Paris on Monday .",
    "The movie was made in France by Luc Besson .",
    "Paris is the capital of France .",
    "We met Angela in Berlin last week .",
] * 6


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, timeout=300,
    )
    return target


def nlpkit(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "nlpkit", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_installed_example_plugin_is_listed_and_trains(site: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    listed = nlpkit(site, "plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("truecase 0.1.0") and "tasks: truecase" in line for line in listed.stdout.splitlines())

    (tmp_path / "train.txt").write_text("\n".join(TEXT) + "\n", encoding="utf-8")
    recipe = {
        "task": "truecase",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {"train": "train.txt", "validation": "train.txt"},
        "train": {"epochs": 4, "batch_size": 8, "lr": 2e-3, "precision": "32"},
        "output": {"dir": "run"},
    }
    (tmp_path / "truecase.yaml").write_text(yaml.safe_dump(recipe))
    ran = nlpkit(site, "run", "truecase.yaml", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["validation"]["accuracy"] > 0.7  # most words are lower case; learnt quickly

    (tmp_path / "in.txt").write_text("paris is the capital of france .\n")
    predicted = nlpkit(site, "predict", "run", "--input", "in.txt", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    row = json.loads(predicted.stdout)
    assert row["text"].lower() == "paris is the capital of france ." and len(row["capitalised"]) == 7

    exported = nlpkit(site, "export", "run", "exported", cwd=tmp_path)  # its hf_head: a transformers class
    assert exported.returncode == 0, exported.stderr
    config = json.loads((tmp_path / "exported/config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"] and config["id2label"]["1"] == "capitalised"
