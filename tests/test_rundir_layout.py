"""The run directory's layout has one owner (nlpkit.rundir), a run's two recipe.yaml files
are the same resolved recipe, and the monitored metric is one value (nlpkit.monitor)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import nlpkit
from nlpkit import rundir
from nlpkit.monitor import Monitor, is_val_key, metric_name, val_key
from nlpkit.rundir import ModelDir, RunDir, model_dir


def test_run_dir_names_every_path_of_the_layout(tmp_path: Path) -> None:
    run = RunDir(str(tmp_path))
    assert run.path == tmp_path
    named = {
        run.recipe: "recipe.yaml", run.log: "train.log", run.metrics: "metrics.json", run.plot: "learning_curve.png",
        run.marker: ".nlpkit-run", run.lock: ".nlpkit-lock", run.checkpoints: "checkpoints",
        run.last_checkpoint: "checkpoints/last.ckpt", run.best_checkpoint: "checkpoints/best.ckpt",
        run.predictions_dir: "predictions", run.logs: "logs", run.metrics_csv: "logs/metrics.csv",
        run.model_dir.path: "model", run.model_dir.task_file: "model/task.json",
        run.model_dir.head_file: "model/head.safetensors", run.model_dir.recipe: "model/recipe.yaml",
        run.report("validation"): "report.html", run.report("test"): "report-test.html",
    }
    for path, relative in named.items():
        assert path == tmp_path / relative
    top = {path.relative_to(tmp_path).parts[0] for path in named}
    assert top == rundir.LAYOUT | {rundir.LOCK}  # --overwrite deletes all of it but the lock


@pytest.mark.parametrize(("fmt", "name"), [("jsonl", "test.jsonl"), ("conll", "test.conll"), ("squad", "test.json"),
                                           ("tsv", "test.tsv")])
def test_a_predictions_file_is_named_by_split_and_format(tmp_path: Path, fmt: str, name: str) -> None:
    assert RunDir(tmp_path).predictions("test", fmt) == tmp_path / "predictions" / name


def test_model_dir_is_a_finished_runs_model_folder_or_the_path_itself(tmp_path: Path) -> None:
    assert model_dir(tmp_path) == ModelDir(tmp_path)  # not a finished run: a checkpoint folder
    assert not RunDir(tmp_path).finished
    (tmp_path / "model").mkdir()
    assert model_dir(tmp_path) == ModelDir(tmp_path)  # model/ without task.json: no run's model
    (tmp_path / "model" / "task.json").write_text(json.dumps({"task": "ner"}))
    assert RunDir(tmp_path).finished
    assert model_dir(tmp_path) == ModelDir(tmp_path / "model") == model_dir(tmp_path / "model")
    assert model_dir(tmp_path).task_name() == "ner"
    (tmp_path / "model" / "task.json").write_text("{damaged")
    assert model_dir(tmp_path / "model").task_name() is None
    assert ModelDir(tmp_path / "nowhere").task_name() is None


def test_the_monitor_is_one_value_with_its_logged_key() -> None:
    monitor = Monitor("accuracy", "max", "recipe.yaml: train.monitor")
    assert monitor.key == "val_accuracy" == val_key("accuracy")
    assert is_val_key(monitor.key) and not is_val_key("train_loss")
    assert metric_name("val_accuracy") == "accuracy" == metric_name("accuracy")
    assert monitor.better(0.8, None) and monitor.better(0.8, 0.7) and not monitor.better(0.7, 0.7)
    loss = Monitor("loss", "min")
    assert loss.better(0.1, 0.2) and not loss.better(0.3, 0.2)


def test_the_monitor_comes_from_the_recipe_else_from_the_task(classification_recipe: dict) -> None:
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    recipe = load_recipe(classification_recipe)
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    assert Monitor.of(recipe, task) == Monitor(task.monitor, task.monitor_mode, "task classification's monitor")
    classification_recipe["train"].update(monitor="macro_f1", monitor_mode="min")
    recipe = load_recipe(classification_recipe)
    assert Monitor.of(recipe, task) == Monitor("macro_f1", "min", "<recipe>: train.monitor")


def test_the_plugin_registry_knows_the_core_commands() -> None:
    from nlpkit.cli import main
    from nlpkit.plugins import CORE_COMMANDS

    assert set(main.commands) == CORE_COMMANDS


def test_both_recipe_files_of_a_run_are_the_same_resolved_recipe(classification_recipe: dict) -> None:
    classification_recipe["train"].update(precision="auto", epochs=1)
    out = nlpkit.run(classification_recipe).run_dir
    top = (out / "recipe.yaml").read_text(encoding="utf-8")
    assert top == (out / "model" / "recipe.yaml").read_text(encoding="utf-8")
    precision = yaml.safe_load(top)["train"]["precision"]
    assert precision in ("32", "bf16-mixed")
    assert json.loads((out / "model" / "task.json").read_text())["precision"] == precision
    assert (out / ".nlpkit-run").is_file() and (out / ".nlpkit-lock").is_file()
    assert {p.name for p in out.iterdir()} <= rundir.LAYOUT | {rundir.LOCK}
