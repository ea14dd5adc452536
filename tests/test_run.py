"""A run end to end on a tiny random BERT: the run directory it leaves, re-running into
it, its log, and the Python API's arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlpkit
from nlpkit.errors import RecipeError, RunDirError


def test_run_writes_a_complete_run_directory(classification_recipe: dict) -> None:
    classification_recipe["output"]["report"] = True
    result = nlpkit.run(classification_recipe)
    out = result.run_dir
    for name in ("recipe.yaml", "metrics.json", "train.log", "learning_curve.png", "report.html", "logs/metrics.csv",
                 "predictions/validation.jsonl", "predictions/test.jsonl",
                 "model/model.safetensors", "model/head.safetensors", "model/task.json", "model/tokenizer.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"training", "validation", "test"}
    assert metrics["validation"] == result.metrics["validation"]
    assert 0.0 <= metrics["validation"]["accuracy"] <= 1.0
    assert set(metrics["validation"]["per_class"]) == {"0", "1"}
    assert metrics["training"]["optimizer_steps"] == 2 * 6  # 48 examples / batch 8, 2 epochs
    task = json.loads((out / "model/task.json").read_text())
    assert task["task"] == "classification" and task["plugin"] == "classification"
    assert task["state"]["labels"] == ["0", "1"]
    assert not (out / "checkpoints").exists()  # removed once the model is exported


def test_existing_run_directory_is_not_overwritten_silently(classification_recipe: dict) -> None:
    nlpkit.run(classification_recipe)
    with pytest.raises(RunDirError, match="already holds a run"):
        nlpkit.run(classification_recipe)
    assert nlpkit.run(classification_recipe, overwrite=True).metrics["validation"]


def test_a_run_that_stopped_before_training_is_started_again_by_the_same_command(classification_recipe: dict) -> None:
    from nlpkit.errors import DataError

    train = Path(classification_recipe["data"]["train"])
    good = train.read_text(encoding="utf-8")
    lines = good.splitlines(keepends=True)
    train.write_text("".join(lines[:3]) + "\t1\n" + "".join(lines[3:]), encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.tsv:4: empty text"):
        nlpkit.run(classification_recipe)
    train.write_text(good, encoding="utf-8")  # the user fixes the row and runs the same command
    result = nlpkit.run(classification_recipe)
    assert result.metrics["validation"] and (Path(classification_recipe["output"]["dir"]) / "metrics.json").exists()


def test_lightnings_own_messages_reach_the_log_but_not_its_advert(
    classification_recipe: dict, caplog: pytest.LogCaptureFixture
) -> None:
    classification_recipe["train"]["epochs"] = 1
    with caplog.at_level("INFO"):
        nlpkit.run(classification_recipe)
    assert "GPU available" in caplog.text and "litlogger" not in caplog.text


def test_the_api_takes_overrides_as_a_list_or_a_mapping_and_leaves_the_plot_backend_alone(
    classification_recipe: dict, tmp_path: Path
) -> None:
    import matplotlib

    from nlpkit.recipe import load_recipe

    backend = matplotlib.get_backend()
    matplotlib.use("pdf")  # a user's choice, which the run must not switch to Agg
    with pytest.raises(RecipeError, match=r"overrides are a list of 'key.sub=value' strings"):
        nlpkit.run(classification_recipe, "train.epochs=1")  # type: ignore[arg-type]
    loaded = load_recipe(classification_recipe)
    result = nlpkit.run(loaded, {"train.epochs": 1, "output.dir": str(tmp_path / "mapped"), "output.report": True})
    assert result.run_dir == tmp_path / "mapped" and result.metrics["training"]["epochs"] == 1
    assert isinstance(result, nlpkit.RunResult) and isinstance(nlpkit.load(result.run_dir), nlpkit.Predictor)
    assert (result.run_dir / "learning_curve.png").exists() and matplotlib.get_backend() == "pdf"
    matplotlib.use(backend)
