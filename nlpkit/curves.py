"""A run's learning curves: read from its ``logs/metrics.csv`` files, drawn with matplotlib.

The steps are those of the run's log (optimizer steps done, see
:class:`nlpkit.callbacks.TrainingCurves`), so a point of the plot, a row of the CSV and
a line of ``train.log`` name the same step. The figure is one readable at 7 steps and at
4,000: the raw training loss with a smoothed line over it once there are enough points,
the validation loss and scores as points, the learning rate, integer step ticks, a
legend entry for every line, and a loss axis that never zooms into noise.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from nlpkit.monitor import Monitor, is_val_key, metric_name, val_key
from nlpkit.rundir import RunDir

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Series = list[tuple[int, float]]
VAL_LOSS = val_key("loss")
MIN_SPAN = 0.05
"""The loss axis spans at least this share of the loss: a nearly constant loss is drawn
as the flat line it is, not as noise blown up to fill the panel."""
MARKERS_UP_TO = 30
"""Points are marked on a line of at most this many points (a short run)."""


@dataclass
class Curves:
    """What the logs hold, as (step, value) series in step order."""

    train_loss: Series = field(default_factory=list)
    loss_parts: dict[str, Series] = field(default_factory=dict)
    """The parts of the training loss a run logs, by name (distillation's ``hard_loss``,
    ``soft_loss``, ``hidden_loss``)."""
    lr: Series = field(default_factory=list)
    validation: dict[str, Series] = field(default_factory=dict)
    """By logged name (``val_accuracy``, ``val_loss``)."""
    epoch_ends: list[int] = field(default_factory=list)
    """The last step of every epoch but the last."""

    @property
    def empty(self) -> bool:
        return not self.train_loss and not self.validation

    @property
    def last_step(self) -> int:
        every = (self.train_loss, self.lr, *self.loss_parts.values(), *self.validation.values())
        steps = [s for series in every for s, _ in series]
        return max(steps, default=0)


def read_curves(paths: Iterable[Path]) -> Curves:
    """The curves of the CSV logs ``paths``, oldest first (the parts of a resumed run)."""
    curves = Curves()
    epoch_last: dict[int, int] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                step = int(float(row.get("step") or 0))
                if row.get("train_loss"):
                    curves.train_loss.append((step, float(row["train_loss"])))
                    if row.get("epoch"):
                        epoch_last[int(float(row["epoch"]))] = step
                if row.get("lr"):
                    curves.lr.append((step, float(row["lr"])))
                for key, value in row.items():
                    if key and is_val_key(key) and value:
                        curves.validation.setdefault(key, []).append((step, float(value)))
                    elif key and key.endswith("_loss") and key != "train_loss" and value:
                        curves.loss_parts.setdefault(key, []).append((step, float(value)))
    curves.epoch_ends = sorted(epoch_last.values())[:-1]
    return curves


def run_curves(run: RunDir) -> Curves:
    """The curves of a run directory's logs, every attempt of a resumed run included."""
    return read_curves(run.metrics_logs)


SMOOTH_FROM = 20
"""Fewer logged losses than this are drawn as they are, with no smoothed line."""


def smoothing_weight(points: int) -> float:
    """The weight of the exponential moving average over ``points`` logged losses: a span
    of a tenth of the points (0: fewer than :data:`SMOOTH_FROM`, at most 0.95)."""
    if points < SMOOTH_FROM:
        return 0.0
    span = points / 10
    return min(0.95, max(0.0, 1 - 2 / (span + 1)))


def smoothed(values: list[float], weight: float) -> list[float]:
    """The exponential moving average of ``values``, bias-corrected at the start (as
    TensorBoard smooths): the first points are not pulled towards zero."""
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight**i) if weight else value)
    return out


def save_learning_curve(run: RunDir, monitor: Monitor | None) -> Path | None:
    """Draw the run's curves into ``learning_curve.png``; None when its logs hold none."""
    curves = run_curves(run)
    if curves.empty:
        return None
    figure = draw(curves, monitor, title=run.path.name)
    figure.savefig(run.plot, dpi=100)
    return run.plot


def draw(curves: Curves, monitor: Monitor | None, title: str = "") -> "Figure":
    """The learning-curve figure: loss, validation scores (if any), learning rate (if
    logged), one panel each over a shared axis of optimizer steps."""
    # A Figure of its own, not pyplot: no backend is chosen for the whole process (a
    # notebook calling nlpkit.run keeps its inline plots).
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    scores = _score_series(curves, monitor)
    panels = ["loss"] + (["scores"] if scores else []) + (["lr"] if curves.lr else [])
    ratios = {"loss": 3, "scores": 2, "lr": 1}
    figure = Figure(figsize=(10, 2.2 + 1.3 * sum(ratios[p] for p in panels) / 2), layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True, height_ratios=[ratios[p] for p in panels], squeeze=False)[:, 0]
    by_name = dict(zip(panels, axes))
    _draw_loss(by_name["loss"], curves)
    if scores:
        _draw_scores(by_name["scores"], scores, monitor)
    if curves.lr:
        _draw_lr(by_name["lr"], curves.lr)
    for ax in axes:
        for i, step in enumerate(curves.epoch_ends if len(curves.epoch_ends) <= 20 else []):
            ax.axvline(step, color="0.6", linestyle=":", linewidth=1, label="end of an epoch" if i == 0 else None)
        ax.grid(True, alpha=0.3)
        # Beside the panel, never over the points.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    bottom = axes[-1]
    bottom.set_xlabel("optimizer step")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.set_xlim(0, max(1, curves.last_step) * 1.02 + 0.2)  # the last points whole
    steps = curves.last_step
    figure.suptitle(f"{title + ': ' if title else ''}{steps} optimizer step{'s' * (steps != 1)}")
    return figure


def _draw_loss(ax: "Axes", curves: Curves) -> None:
    drawn: list[float] = []
    if curves.train_loss:
        steps, losses = zip(*curves.train_loss)
        weight = smoothing_weight(len(losses))
        few = len(losses) <= MARKERS_UP_TO
        ax.plot(steps, losses, color="tab:blue", linewidth=1 if weight else 1.5, alpha=0.35 if weight else 1,
                marker="o" if few else None, markersize=3, label="training loss")
        if weight:
            ax.plot(steps, smoothed(list(losses), weight), color="tab:blue", linewidth=2,
                    label=f"training loss, smoothed (EMA {weight:.2f})")
        drawn += losses
    colors = ("tab:cyan", "tab:olive", "tab:pink", "tab:gray")
    for color, (name, series) in zip(colors, sorted(curves.loss_parts.items())):
        steps, losses = zip(*series)
        weight = smoothing_weight(len(losses))  # drawn smoothed only: the total's raw line is noise enough
        label = f"training {name.replace('_', ' ')}" + (f", smoothed (EMA {weight:.2f})" if weight else "")
        ax.plot(steps, smoothed(list(losses), weight), color=color, linewidth=1.5, label=label)
        drawn += losses
    if VAL_LOSS in curves.validation:
        steps, losses = zip(*curves.validation[VAL_LOSS])
        ax.plot(steps, losses, color="tab:orange", marker="o", linewidth=1.5, label="validation loss")
        drawn += losses
    if not drawn:
        ax.text(0.5, 0.5, "no loss logged", transform=ax.transAxes, ha="center", va="center", color="0.4")
        ax.set_yticks([])
        return
    ax.set_ylabel("loss")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    _least_span(ax, min(drawn), max(drawn))


def _least_span(ax: "Axes", low: float, high: float) -> None:
    """Widen the y axis to at least :data:`MIN_SPAN` of the values around their middle."""
    middle = (low + high) / 2
    span = max(high - low, MIN_SPAN * abs(middle), 1e-6)
    pad = span * 0.08
    ax.set_ylim(middle - span / 2 - pad, middle + span / 2 + pad)


def _score_series(curves: Curves, monitor: Monitor | None) -> dict[str, Series]:
    """The validation scores worth one axis: the monitored one first, then up to three
    others on its scale (a fraction beside a fraction, not a perplexity)."""
    scores = {k: v for k, v in curves.validation.items() if k != VAL_LOSS}
    if not scores:
        return {}
    first = monitor.key if monitor is not None and monitor.key in scores else sorted(scores)[0]
    scale = _scale(scores[first])
    others = [k for k in sorted(scores) if k != first and _scale(scores[k]) == scale][:3]
    return {key: scores[key] for key in (first, *others)}


def _scale(series: Series) -> int:
    """-1 for values within [-1, 1] (fractions, correlations), else their order of magnitude."""
    largest = max(abs(v) for _, v in series)
    return -1 if largest <= 1 else int(math.log10(largest))


def _draw_scores(ax: "Axes", scores: dict[str, Series], monitor: Monitor | None) -> None:
    colors = ("tab:green", "tab:purple", "tab:brown", "tab:gray")
    for i, (key, series) in enumerate(scores.items()):
        steps, values = zip(*series)
        monitored = monitor is not None and key == monitor.key
        label = f"validation {metric_name(key)}" + (f" (monitored, {monitor.mode})" if monitored and monitor else "")
        ax.plot(steps, values, color=colors[i], marker="o", markersize=4 if i else 5,
                linewidth=2 if i == 0 else 1, label=label)
    ax.set_ylabel("validation score")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    values = [v for series in scores.values() for _, v in series]
    _least_span(ax, min(values), max(values))


def _draw_lr(ax: "Axes", series: Series) -> None:
    steps, rates = zip(*series)
    ax.plot(steps, rates, color="tab:red", linewidth=1.5, marker="o" if len(rates) <= MARKERS_UP_TO else None,
            markersize=3, label="learning rate (largest group)")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.set_ylim(bottom=0)
