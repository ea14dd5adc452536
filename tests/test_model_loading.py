"""Loading a run directory: a damaged head file or task state is an error naming the file,
never a model that predicts with random weights or a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlpkit
from nlpkit.cli import main
from nlpkit.errors import RunDirError
from tests.conftest import train_tiny_classifier


@pytest.fixture(scope="module")
def trained(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny classification run, trained once for the module; tests damage copies."""
    return train_tiny_classifier(tmp_path_factory.mktemp("loading"), tiny_encoder)


@pytest.fixture
def run_dir(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "run"))


def predict_fails(run_dir: Path, tmp_path: Path) -> str:
    texts = tmp_path / "in.txt"
    texts.write_text("i loved it\n")
    result = CliRunner().invoke(main, ["predict", str(run_dir), "--input", str(texts)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result.stderr.strip()


def test_a_head_file_without_the_heads_tensors_is_refused(run_dir: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    head = run_dir / "model" / "head.safetensors"
    save_file({"unrelated.weight": torch.zeros(2)}, str(head))
    assert predict_fails(run_dir, tmp_path) == (
        f"error: {head} does not hold the head of task classification: missing tensors out.bias, out.weight; "
        "unexpected tensors unrelated.weight; train the run again"
    )
    with pytest.raises(RunDirError, match="missing tensors out.bias, out.weight"):
        nlpkit.load(run_dir)


def test_a_head_file_missing_one_tensor_is_refused(run_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    head = run_dir / "model" / "head.safetensors"
    tensors = load_file(str(head))
    del tensors["out.bias"]
    save_file(tensors, str(head))
    assert predict_fails(run_dir, tmp_path) == (
        f"error: {head} does not hold the head of task classification: missing tensors out.bias; train the run again"
    )


def test_an_intact_run_predicts_the_same_on_every_load(run_dir: Path) -> None:
    assert nlpkit.load(run_dir).predict("i loved it") == nlpkit.load(run_dir).predict("i loved it")


def test_an_empty_task_state_names_the_file_and_what_is_missing(run_dir: Path, tmp_path: Path) -> None:
    meta_path = run_dir / "model" / "task.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "state": {}}))
    assert predict_fails(run_dir, tmp_path) == (
        f"error: {meta_path}: the saved state of task classification has no 'labels' (\"state\": {{}}); "
        "train the run again"
    )
    del meta["state"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match=r"has no 'labels' \(\"state\": absent\)"):
        nlpkit.load(run_dir)


def test_any_failure_of_a_tasks_load_state_dict_is_a_run_dir_error(run_dir: Path) -> None:
    meta_path = run_dir / "model" / "task.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "state": {"labels": 5}}))  # list(5): a TypeError
    with pytest.raises(RunDirError) as info:
        nlpkit.load(run_dir)
    assert str(info.value) == (
        f"{meta_path}: the saved state of task classification cannot be restored (TypeError: 'int' object is "
        "not iterable) (\"state\": {\"labels\": 5}); train the run again"
    )
