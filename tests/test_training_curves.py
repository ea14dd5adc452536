"""The training log and the learning curve: what logs/metrics.csv holds, at which steps,
and what the plot draws from it (checked through matplotlib's objects, not pixels)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import nlpkit
from nlpkit.curves import MIN_SPAN, Curves, draw, read_curves, run_curves, smoothed, smoothing_weight
from nlpkit.monitor import Monitor
from nlpkit.rundir import RunDir


def rows(run_dir: Path) -> list[dict[str, str]]:
    with RunDir(run_dir).metrics_csv.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def two_epochs(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 sentences in batches of 8, two epochs: 12 optimizer steps, validated at 6 and 12."""
    from tests.conftest import write_sentiment_tsv

    root = tmp_path_factory.mktemp("curves")
    recipe = {
        "task": "classification",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {"train": str(write_sentiment_tsv(root / "train.tsv", 48, seed=1)),
                 "validation": str(write_sentiment_tsv(root / "dev.tsv", 16, seed=2))},
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "warmup_ratio": 0.25, "precision": "32", "seed": 7},
        "trainer": {"enable_progress_bar": False},
        "output": {"dir": str(root / "run")},
    }
    return nlpkit.run(recipe).run_dir


def test_every_step_of_a_short_run_has_its_loss_and_learning_rate(two_epochs: Path) -> None:
    training = [r for r in rows(two_epochs) if r["train_loss"]]
    assert [int(r["step"]) for r in training] == list(range(1, 13))
    assert [int(r["epoch"]) for r in training] == [0] * 6 + [1] * 6
    rates = [float(r["lr"]) for r in training]
    # 12 steps, 3 of warm-up (25%): the rate of each step rises to 1e-3, then decays linearly.
    assert rates[:4] == pytest.approx([0.0, 1e-3 / 3, 2e-3 / 3, 1e-3])
    assert rates[3:] == pytest.approx([1e-3 * (12 - s) / 9 for s in range(3, 12)])


def test_validations_are_logged_at_the_steps_the_log_names_with_the_validation_loss(two_epochs: Path) -> None:
    validations = [r for r in rows(two_epochs) if r["val_accuracy"]]
    log = (two_epochs / "train.log").read_text(encoding="utf-8")
    logged = [int(step) for step in re.findall(r"epoch \d+, step (\d+): val_accuracy", log)]
    assert [int(r["step"]) for r in validations] == logged == [6, 12]
    losses = [float(r["val_loss"]) for r in validations]
    assert all(0 < loss < 5 for loss in losses)
    assert "val_loss" in log


def test_the_plot_draws_the_logged_points_with_a_legend_entry_for_every_line(two_epochs: Path) -> None:
    curves = run_curves(RunDir(two_epochs))
    figure = draw(curves, Monitor("accuracy", "max"), title="two-epochs")
    loss_ax, scores_ax, lr_ax = figure.axes[:3]
    by_label = {line.get_label(): line for ax in figure.axes for line in ax.get_lines()}
    training = [r for r in rows(two_epochs) if r["train_loss"]]
    train_line = by_label["training loss"]
    assert list(train_line.get_xdata()) == [int(r["step"]) for r in training]
    assert list(train_line.get_ydata()) == pytest.approx([float(r["train_loss"]) for r in training])
    assert list(by_label["validation loss"].get_xdata()) == [6, 12]
    assert list(by_label["validation accuracy (monitored, max)"].get_xdata()) == [6, 12]
    assert list(by_label["learning rate (largest group)"].get_ydata()) == pytest.approx(
        [float(r["lr"]) for r in training])
    for ax in (loss_ax, scores_ax, lr_ax):
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert legend == [line.get_label() for line in ax.get_lines()]
    assert list(by_label["end of an epoch"].get_xdata()) == [6, 6]
    # Whole steps on the axis, and all 12 in view.
    ticks = [t for t in lr_ax.get_xticks() if lr_ax.get_xlim()[0] <= t <= lr_ax.get_xlim()[1]]
    assert all(float(t).is_integer() for t in ticks) and lr_ax.get_xlim()[1] > 12
    assert lr_ax.get_xlabel() == "optimizer step" and loss_ax.get_ylabel() == "loss"
    assert (two_epochs / "learning_curve.png").stat().st_size > 0


def test_a_nearly_constant_loss_is_drawn_flat_not_blown_up() -> None:
    curves = Curves(train_loss=[(s, 0.6931 + 1e-6 * (s % 2)) for s in range(1, 8)])
    low, high = draw(curves, None).axes[0].get_ylim()
    assert high - low >= MIN_SPAN * 0.6931
    assert not draw(curves, None).axes[0].yaxis.get_major_formatter().get_useOffset()


def test_a_long_run_gets_a_smoothed_loss_over_the_raw_one() -> None:
    import math
    import random

    noise = random.Random(0)
    raw = [(s, 0.3 + 0.4 * math.exp(-s / 800) + noise.gauss(0, 0.08)) for s in range(20, 4001, 20)]
    lines = {line.get_label(): line for line in draw(Curves(train_loss=raw), None).axes[0].get_lines()}
    smooth = next(line for label, line in lines.items() if label.startswith("training loss, smoothed"))
    values = [v for _, v in raw]
    assert list(smooth.get_ydata()) == pytest.approx(smoothed(values, smoothing_weight(len(values))))
    wiggle = lambda ys: sum(abs(a - b) for a, b in zip(ys, ys[1:]))  # noqa: E731
    assert wiggle(list(smooth.get_ydata())) < wiggle(values) / 4
    assert smoothing_weight(7) == 0  # too few points to smooth: the raw line only


def test_the_parts_of_a_distilled_loss_get_lines_of_their_own(tmp_path: Path) -> None:
    log = tmp_path / "metrics.csv"
    log.write_text(
        "epoch,step,train_loss,hard_loss,soft_loss,lr,val_accuracy\n"
        + "".join(f"0,{s},{1.0 / s},{2.0 / s},{0.5 / s},0.001,\n" for s in range(1, 6))
        + "0,5,,,,,0.75\n"
    )
    curves = read_curves([log])
    assert curves.loss_parts == {"hard_loss": [(s, 2.0 / s) for s in range(1, 6)],
                                 "soft_loss": [(s, 0.5 / s) for s in range(1, 6)]}
    lines = {line.get_label(): line for line in draw(curves, None).axes[0].get_lines()}
    assert list(lines["training hard loss"].get_ydata()) == pytest.approx([2.0 / s for s in range(1, 6)])
    assert list(lines["training soft loss"].get_xdata()) == [1, 2, 3, 4, 5]
    assert draw(curves, None).axes[0].get_ylim()[1] >= 2.0  # the axis holds every part


def test_smoothing_is_bias_corrected_at_the_start() -> None:
    assert smoothed([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])


def test_log_every_n_steps_logs_the_mean_loss_of_each_stretch(two_epochs: Path) -> None:
    """Every 5 steps and at each epoch's end: the mean of the losses of those steps (the
    same run, logged at every step, gives them)."""
    import yaml

    per_step = {int(r["step"]): float(r["train_loss"]) for r in rows(two_epochs) if r["train_loss"]}
    again = yaml.safe_load((two_epochs / "recipe.yaml").read_text(encoding="utf-8"))
    again["train"]["log_every_n_steps"] = 5
    again["output"]["dir"] = str(two_epochs.parent / "every-5")
    logged = {int(r["step"]): float(r["train_loss"]) for r in rows(nlpkit.run(again).run_dir) if r["train_loss"]}
    stretches = {5: range(1, 6), 6: [6], 10: range(7, 11), 12: range(11, 13)}
    assert sorted(logged) == sorted(stretches)
    for step, steps in stretches.items():
        assert logged[step] == pytest.approx(sum(per_step[s] for s in steps) / len(steps), rel=1e-5)
