"""``trainer.logger`` from YAML: TensorBoard by default, MLflow's file store and W&B's
offline mode on request, options checked like every other recipe key."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

import nlpkit
from nlpkit.errors import RecipeError
from nlpkit.loggers import CsvOptions, MlflowOptions, TensorBoardOptions, logger_options
from nlpkit.recipe import load_recipe
from nlpkit.rundir import RunDir


def one_epoch(recipe: dict, logger: object = None) -> dict:
    recipe["train"]["epochs"] = 1
    recipe["trainer"] = {"enable_progress_bar": False} | ({"logger": logger} if logger is not None else {})
    return recipe


def csv_series(run_dir: Path, key: str) -> list[tuple[int, float]]:
    with RunDir(run_dir).metrics_csv.open(encoding="utf-8") as handle:
        return [(int(r["step"]), float(r[key])) for r in csv.DictReader(handle) if r.get(key)]


def test_a_run_writes_tensorboard_event_files_with_the_steps_of_the_csv(classification_recipe: dict) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = nlpkit.run(one_epoch(classification_recipe)).run_dir
    events = EventAccumulator(str(run_dir / "logs" / "tensorboard"))
    events.Reload()
    assert {"train_loss", "lr", "val_accuracy", "val_loss"} <= set(events.Tags()["scalars"])
    for key in ("train_loss", "val_accuracy"):
        logged = [(e.step, e.value) for e in events.Scalars(key)]
        assert logged == [(s, pytest.approx(v)) for s, v in csv_series(run_dir, key)]
        assert logged


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="MLflow is not installed (nlpkit[tracking])")
def test_trainer_logger_mlflow_creates_a_file_store_run_with_the_metrics_and_the_recipe(
    classification_recipe: dict, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    store = f"file:{tmp_path / 'mlruns'}"
    logger = {"mlflow": {"tracking_uri": store, "experiment_name": "tiny-sentiment"}}
    run_dir = nlpkit.run(one_epoch(classification_recipe, logger)).run_dir
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("tiny-sentiment")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.params["train/lr"] == "0.001"
    history = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
    assert history == [(s, pytest.approx(v)) for s, v in csv_series(run_dir, "val_accuracy")]
    assert RunDir(run_dir).metrics_csv.exists()  # the CSV log is kept whatever trainer.logger says


@pytest.mark.integration  # wandb runs its own service process (wandb-core): seconds to start
@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="W&B is not installed (nlpkit[tracking])")
def test_trainer_logger_wandb_writes_an_offline_run_in_the_run_directory(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_SILENT", "true")
    run_dir = nlpkit.run(one_epoch(classification_recipe, {"wandb": {"project": "tiny"}})).run_dir
    (offline,) = (run_dir / "logs" / "wandb").glob("offline-run-*")
    assert list(offline.glob("*.wandb"))


def test_logger_names_and_options_are_read_and_checked() -> None:
    assert list(logger_options(None)) == ["csv", "tensorboard"]
    assert list(logger_options("mlflow")) == ["csv", "mlflow"]
    chosen = logger_options({"tensorboard": {"flush_secs": 5}, "mlflow": None})
    assert chosen["tensorboard"] == TensorBoardOptions(flush_secs=5)
    assert chosen["mlflow"] == MlflowOptions() and chosen["csv"] == CsvOptions()


@pytest.mark.parametrize(
    ("logger", "message"),
    [
        ({"mlflow": {"experiment": "x"}}, r"r\.yaml: unknown key trainer\.logger\.mlflow\.experiment; known keys: "
                                          r"experiment_name, run_name, tracking_uri, tags"),
        ({"tensorboard": {"flush_secs": "often"}}, r"trainer\.logger\.tensorboard\.flush_secs: .*integer"),
        ("tensorbord", r"unknown logger trainer\.logger\.tensorbord \(did you mean tensorboard\?\)"),
        (False, r"logs/metrics\.csv is always written"),
        ({"wandb": "offline"}, r"trainer\.logger\.wandb: expected a mapping of options"),
    ],
)
def test_a_bad_logger_is_a_recipe_error_naming_the_key(
    classification_recipe: dict, tmp_path: Path, logger: object, message: str
) -> None:
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(one_epoch(classification_recipe, logger)), encoding="utf-8")
    with pytest.raises(RecipeError, match=message):
        load_recipe(path)


def test_a_logger_that_is_not_installed_is_said_before_the_run(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(RecipeError, match=r"trainer\.logger names wandb, which is not installed: "
                                          r"pip install 'nlpkit\[tracking\]'"):
        load_recipe(one_epoch(classification_recipe, "wandb"))
