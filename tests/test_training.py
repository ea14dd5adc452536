"""The fine-tune loop end to end on a tiny random BERT."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import nlpkit
from nlpkit.errors import RecipeError, RunDirError


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_run_writes_a_complete_run_directory(classification_recipe: dict) -> None:
    result = nlpkit.run(classification_recipe)
    out = result.run_dir
    for name in ("recipe.yaml", "metrics.json", "train.log", "learning_curve.png", "logs/metrics.csv",
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


def test_the_tiny_model_learns_the_toy_task(classification_recipe: dict) -> None:
    classification_recipe["train"]["epochs"] = 6
    result = nlpkit.run(classification_recipe)
    assert result.metrics["validation"]["accuracy"] >= 0.9


def test_reloaded_model_reproduces_the_evaluated_predictions_exactly(classification_recipe: dict) -> None:
    classification_recipe["train"]["precision"] = "bf16-mixed"
    out = nlpkit.run(classification_recipe).run_dir
    saved = read_jsonl(out / "predictions/validation.jsonl")
    predictor = nlpkit.load(out)
    again = predictor.predict([row["text"] for row in saved])
    assert [p["label"] for p in again] == [row["label"] for row in saved]
    assert [p["probabilities"] for p in again] == [row["probabilities"] for row in saved]
    single = predictor.predict(saved[0]["text"])
    assert single["label"] == saved[0]["label"]


def test_bf16_training_uses_the_fused_adamw_and_clips_every_step(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lightning refuses to clip for a fused optimizer under mixed precision (a guard
    # meant for fp16's grad scaler); bf16 has no scaler, so nlpkit clips itself.
    import torch

    import nlpkit.module as module

    classification_recipe["train"].update(precision="bf16-mixed", max_grad_norm=0.05)
    fused: list[bool] = []
    norms: list[tuple[float, float]] = []
    configure = module.TaskModule.configure_optimizers
    clip = torch.nn.utils.clip_grad_norm_

    def configure_spy(self):  # type: ignore[no-untyped-def]
        config = configure(self)
        fused.append(bool(config["optimizer"].defaults["fused"]))
        return config

    def clip_spy(params, max_norm, *args, **kwargs):  # type: ignore[no-untyped-def]
        params = [p for p in params if p.grad is not None]
        before = clip(params, max_norm, *args, **kwargs)
        after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        norms.append((float(before), float(after)))
        return before

    monkeypatch.setattr(module.TaskModule, "configure_optimizers", configure_spy)
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", clip_spy)
    nlpkit.run(classification_recipe)
    assert fused == [True]
    assert len(norms) == 12  # every optimizer step: 48 examples / batch 8, 2 epochs
    assert any(before > 0.05 for before, _ in norms)  # clipping had work to do
    assert all(after <= 0.05 * 1.01 for _, after in norms)


def test_same_seed_same_results(classification_recipe: dict, tmp_path: Path) -> None:
    first = nlpkit.run(classification_recipe)
    classification_recipe["output"]["dir"] = str(tmp_path / "second")
    second = nlpkit.run(classification_recipe)
    assert first.metrics["validation"] == second.metrics["validation"]
    assert read_jsonl(first.run_dir / "predictions/test.jsonl") == read_jsonl(second.run_dir / "predictions/test.jsonl")


def test_dropout_is_active_while_training(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlpkit.module as module

    seen: list[bool] = []
    original = module.TaskModule.training_step

    def spy(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        seen.append(all(m.training for m in self.model.encoder.modules()))
        return original(self, batch, batch_idx)

    monkeypatch.setattr(module.TaskModule, "training_step", spy)
    nlpkit.run(classification_recipe)
    assert seen and all(seen)


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


def child_env() -> dict[str, str]:
    """The environment of a training subprocess that must match this process's arithmetic:
    the same thread count (tests/pair/conftest.py sets 1 for the whole session), since
    sums split over other threads round differently."""
    import torch

    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(torch.get_num_threads())}


def same_weights(run: Path, other: Path) -> bool:
    from safetensors.torch import load_file

    names = ("model/model.safetensors", "model/head.safetensors")
    pairs = [(load_file(run / n), load_file(other / n)) for n in names]
    return all(a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a) for a, b in pairs)


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


def test_freeze_encoder_trains_the_head_only(classification_recipe: dict, tiny_encoder: Path) -> None:
    from safetensors.torch import load_file

    classification_recipe["train"]["freeze_encoder"] = True
    frozen = nlpkit.run(classification_recipe)
    assert frozen.metrics["training"]["optimizer_steps"] == 12
    before = load_file(tiny_encoder / "model.safetensors")
    after = load_file(frozen.run_dir / "model" / "model.safetensors")
    shared = [k for k in after if k in before]
    assert shared and all(before[k].equal(after[k]) for k in shared)


def test_training_time_leaves_out_mid_epoch_validation(classification_recipe: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake clock: each training step takes 1 s, each validation batch 100 s.
    import nlpkit.callbacks as callbacks
    import nlpkit.module as module

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock[0])
    training_step, validation_step = module.TaskModule.training_step, module.TaskModule.validation_step

    def timed_training_step(self, *args):  # type: ignore[no-untyped-def]
        clock[0] += 1.0
        return training_step(self, *args)

    def timed_validation_step(self, *args):  # type: ignore[no-untyped-def]
        clock[0] += 100.0
        return validation_step(self, *args)

    monkeypatch.setattr(module.TaskModule, "training_step", timed_training_step)
    monkeypatch.setattr(module.TaskModule, "validation_step", timed_validation_step)
    classification_recipe["trainer"] = {"val_check_interval": 0.5}
    result = nlpkit.run(classification_recipe)
    training = result.metrics["training"]
    assert training["optimizer_steps"] == 12  # 48 examples / batch 8, 2 epochs, validated 4 times
    assert training["train_seconds"] == 12.0
    assert training["train_examples_per_second"] == 8.0


def test_a_validation_interval_longer_than_an_epoch_is_a_recipe_error(classification_recipe: dict) -> None:
    classification_recipe["trainer"] = {"val_check_interval": 50}
    with pytest.raises(RecipeError, match=r"val_check_interval = 50 steps, but an epoch has only 6 training batches"):
        nlpkit.run(classification_recipe)
    classification_recipe["trainer"] = {"val_check_interval": 6}  # the same directory takes the fixed run
    assert nlpkit.run(classification_recipe).metrics["training"]["optimizer_steps"] == 12


def test_lightnings_own_messages_reach_the_log_but_not_its_advert(
    classification_recipe: dict, caplog: pytest.LogCaptureFixture
) -> None:
    classification_recipe["train"]["epochs"] = 1
    with caplog.at_level("INFO"):
        nlpkit.run(classification_recipe)
    assert "GPU available" in caplog.text and "litlogger" not in caplog.text


def test_the_last_steps_after_the_final_validation_are_scored_and_can_be_the_model_kept(
    classification_recipe: dict,
) -> None:
    # 6 batches an epoch; Lightning validates every int(6 * 0.7) = 4 batches: at steps 4
    # and 10, never at the end of the run (steps 11 and 12) unless nlpkit does.
    classification_recipe["trainer"] = {"val_check_interval": 0.7}
    result = nlpkit.run(classification_recipe)
    out = result.run_dir
    log = (out / "train.log").read_text(encoding="utf-8")
    assert "the last 2 steps were not validated yet" in log
    with (out / "logs/metrics.csv").open(encoding="utf-8") as handle:
        scores = [float(row["val_accuracy"]) for row in csv.DictReader(handle) if row.get("val_accuracy")]
    assert len(scores) == 3  # steps 4, 10 and 12
    # The exported model is the best of all three, the final weights included.
    assert result.metrics["validation"]["accuracy"] == pytest.approx(max(scores))


def test_a_run_validated_at_its_last_step_is_not_validated_again(classification_recipe: dict) -> None:
    result = nlpkit.run(classification_recipe)
    assert "were not validated yet" not in (result.run_dir / "train.log").read_text(encoding="utf-8")


def test_an_accelerator_the_machine_lacks_is_a_recipe_error(classification_recipe: dict) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    classification_recipe["trainer"] = {"accelerator": "gpu"}
    with pytest.raises(RecipeError, match=r"trainer section: No supported gpu backend found"):
        nlpkit.run(classification_recipe)


def test_a_monitor_that_is_not_a_metric_stops_at_the_first_validation(classification_recipe: dict) -> None:
    classification_recipe["train"]["monitor"] = "acc"
    with pytest.raises(RecipeError, match=(
        r"<recipe>: train.monitor: the monitored metric 'acc' is not a validation metric of task classification; "
        r"its metrics: accuracy, macro_f1, mcc"
    )):
        nlpkit.run(classification_recipe)


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
    result = nlpkit.run(loaded, {"train.epochs": 1, "output.dir": str(tmp_path / "mapped")})
    assert result.run_dir == tmp_path / "mapped" and result.metrics["training"]["epochs"] == 1
    assert isinstance(result, nlpkit.RunResult) and isinstance(nlpkit.load(result.run_dir), nlpkit.Predictor)
    assert (result.run_dir / "learning_curve.png").exists() and matplotlib.get_backend() == "pdf"
    matplotlib.use(backend)


def test_predict_refuses_inputs_it_cannot_order_or_read(classification_recipe: dict) -> None:
    classification_recipe["train"]["epochs"] = 1
    predictor = nlpkit.load(nlpkit.run(classification_recipe).run_dir)
    for wrong, message in ((b"good", "got bytes"), (5, "got int"), ({"good", "bad"}, "not a set")):
        with pytest.raises(TypeError, match=message):
            predictor.predict(wrong)
    assert len(predictor.predict(t for t in ("good", "bad"))) == 2  # any ordered iterable


def test_a_task_state_that_cannot_be_saved_fails_before_training(
    classification_recipe: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nlpkit.errors import PluginError
    from nlpkit_classification.task import ClassificationTask

    monkeypatch.setattr(ClassificationTask, "state_dict", lambda self: {"labels": set(self.labels)})
    with pytest.raises(PluginError, match=r"task classification \(plugin 'classification'\): state_dict\(\) must be JSON"):
        nlpkit.run(classification_recipe)
    assert not (Path(classification_recipe["output"]["dir"]) / "checkpoints").exists()


def test_training_a_tokenizer_without_texts_is_an_error() -> None:
    from nlpkit.encoder import train_wordpiece

    with pytest.raises(RecipeError, match=r"the task gives no training texts .*Task.texts"):
        train_wordpiece(iter(["", "  "]), 100, lowercase=True)
