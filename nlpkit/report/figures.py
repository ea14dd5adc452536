"""The report's plots: matplotlib figures, embedded in the page as PNG data URIs."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from nlpkit.report.classes import CalibrationBin


def data_uri(figure: "Figure", dpi: int = 100) -> str:
    """The figure as a ``data:image/png;base64,...`` URI: the page needs no other file."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_bars(names: Sequence[str], rows: Sequence[Sequence[float]], title: str) -> "Figure":
    """Grouped bars of precision, recall and F1 per class or entity type."""
    from matplotlib.figure import Figure

    height = max(2.4, 0.45 * len(names) + 1.2)
    figure = Figure(figsize=(7.5, height), layout="constrained")
    ax = figure.subplots()
    width = 0.27
    for k, (metric, color) in enumerate(zip(("precision", "recall", "F1"), ("tab:blue", "tab:orange", "tab:green"))):
        positions = [i + (k - 1) * width for i in range(len(names))]
        ax.barh(positions, [row[k] for row in rows], height=width, color=color, label=metric)
    ax.set_yticks(range(len(names)), [str(n) for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("score (0-1)")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return figure


def reliability(bins: Sequence["CalibrationBin"], ece: float) -> "Figure":
    """Accuracy against confidence per confidence bin, beside the diagonal of perfect
    calibration, with each bin's share of the examples under it."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 5.2), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    width = 1 / max(1, round(1 / (bins[0].high - bins[0].low))) if bins else 0.1
    centers = [(b.low + b.high) / 2 for b in bins]
    top.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="perfect calibration")
    top.bar(centers, [b.accuracy for b in bins], width=width * 0.9, color="tab:blue", alpha=0.8,
            label="accuracy of the bin")
    top.plot([b.confidence for b in bins], [b.accuracy for b in bins], "o", color="tab:red",
             label="mean confidence of the bin")
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"reliability (expected calibration error {ece:.3f})")
    top.legend(loc="upper left", fontsize="small", frameon=False)
    total = sum(b.count for b in bins) or 1
    bottom.bar(centers, [b.count / total for b in bins], width=width * 0.9, color="0.5", label="share of examples")
    bottom.set_xlim(0, 1)
    bottom.set_xlabel("confidence (probability of the predicted class)")
    bottom.set_ylabel("share")
    bottom.legend(loc="upper left", fontsize="small", frameon=False)
    return figure


def attention_maps(layer: Sequence[Sequence[Sequence[float]]], tokens: Sequence[str], index: int) -> "Figure":
    """One layer's attention, a heat-map per head: rows attend (query), columns are
    attended to (key); each row sums to 1."""
    from matplotlib.figure import Figure

    heads = len(layer)
    columns = min(heads, 4)
    rows = -(-heads // columns)
    size = 2.2 if len(tokens) <= 16 else 3.2
    figure = Figure(figsize=(columns * size + 1, rows * size + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    labels = len(tokens) <= 24
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.set_axis_off()
            continue
        image = ax.imshow(layer[h], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h + 1}", fontsize="small")
        ticks = range(len(tokens)) if labels else []
        ax.set_xticks(ticks, [tokens[i] for i in ticks], rotation=90, fontsize=6)
        ax.set_yticks(ticks, [tokens[i] for i in ticks], fontsize=6)
    figure.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    figure.suptitle(f"layer {index + 1} (rows: query token, columns: key token)")
    return figure


def predicted_against_gold(predicted: Sequence[float], gold: Sequence[float], key: str) -> "Figure":
    """A scatter of the predicted value against the gold one beside the diagonal, and a
    histogram of the errors."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4.2), layout="constrained")
    scatter, spread = figure.subplots(1, 2, width_ratios=[1, 1.2])
    low, high = min(*gold, *predicted), max(*gold, *predicted)
    scatter.plot([low, high], [low, high], color="0.5", linestyle="--", linewidth=1, label="predicted = gold")
    scatter.scatter(gold, predicted, s=10, alpha=0.5, color="tab:blue", label="one example")
    scatter.set_xlabel("gold")
    scatter.set_ylabel(f"predicted ({key})")
    scatter.set_title("predicted against gold")
    scatter.legend(loc="upper left", fontsize="small", frameon=False)
    errors = [p - g for p, g in zip(predicted, gold)]
    spread.hist(errors, bins=30, color="tab:orange", alpha=0.85)
    spread.axvline(0, color="0.3", linewidth=1)
    spread.set_xlabel("error (predicted - gold)")
    spread.set_ylabel("examples")
    spread.set_title("errors")
    return figure



def perplexity_spread(perplexities: Sequence[float], overall: float) -> "Figure":
    """A histogram of the documents' perplexity (on a log scale where they span more than
    tenfold: a few hard documents reach far), with the perplexity of all their tokens together."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 3.4), layout="constrained")
    axes = figure.subplots()
    low, high = min(perplexities), max(perplexities)
    wide = high > 10 * low
    axes.hist(perplexities, bins=np.geomspace(low, high, 31) if wide else 30, color="tab:blue", alpha=0.85,
              label="documents")
    if wide:
        axes.set_xscale("log")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.axvline(overall, color="tab:red", linewidth=1.5, label=f"all masked tokens: {overall:.2f}")
    axes.set_xlabel("perplexity of the document's masked tokens")
    axes.set_ylabel("documents")
    axes.legend(loc="upper right", fontsize="small", frameon=False)
    return figure
