"""The run directory: what a run leaves behind, and how it is written."""

from __future__ import annotations

import json
import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from nlpkit.errors import RunDirError

log = logging.getLogger("nlpkit")

RECIPE = "recipe.yaml"
METRICS = "metrics.json"
LOG = "train.log"
CHECKPOINTS = "checkpoints"
PREDICTIONS = "predictions"
PLOT = "learning_curve.png"
LOGS = "logs"


def prepare(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Create ``out``; refuse to write over an earlier run unless asked to.

    A directory holding only the recipe and the log is a run that stopped before it
    trained (a bad data row, an interrupt while tokenizing): it is used again, and its
    log grows by the new attempt, so the same command works once the cause is fixed."""
    if resume:
        if not (out / CHECKPOINTS / "last.ckpt").exists():
            raise RunDirError(f"--resume: {out} has no checkpoints/last.ckpt to continue from")
        return
    if out.exists() and any(out.iterdir()):
        if {p.name for p in out.iterdir()} <= {RECIPE, LOG} and not overwrite:
            log.info("output directory %s holds a run that stopped before training: starting it again", out)
            return
        if not overwrite:
            raise RunDirError(
                f"output directory {out} already holds a run; continue it with --resume, "
                f"replace it with --overwrite, or choose another with output.dir=..."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def attach_log(out: Path) -> logging.Handler:
    """Mirror nlpkit's log into ``train.log`` (appends on resume)."""
    handler = logging.FileHandler(out / LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("nlpkit").addHandler(handler)
    return handler


def keep_earlier_log(out: Path) -> None:
    """Move an interrupted run's metrics.csv aside (metrics.part1.csv, ...)."""
    current = out / LOGS / "metrics.csv"
    if current.exists():
        parts = len(list((out / LOGS).glob("metrics.part*.csv")))
        current.rename(out / LOGS / f"metrics.part{parts + 1}.csv")


def interrupted(out: Path) -> str:
    """What a user needs to hear after a Ctrl-C outside the training steps: what is kept
    and which command picks the run up again."""
    last = out / CHECKPOINTS / "last.ckpt"
    if last.exists():
        return f"interrupted; {last} holds the last saved step: the same command with --resume continues from there"
    return "interrupted before a checkpoint was saved; the same command starts the run again"


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block
    ends without error, and is removed otherwise: an error or Ctrl-C midway leaves an
    earlier file of that name as it was, and parallel readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial{os.getpid()}")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` to ``path`` all at once (:func:`replacing`); returns their number."""
    count = 0
    with replacing(path) as partial, partial.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
            count += 1
    return count


def plot_learning_curve(out: Path, monitor: str | None) -> Path | None:
    """Training loss per step and validation metrics per epoch, from the CSV log."""
    csv_paths = sorted((out / LOGS).glob("metrics.part*.csv")) + [out / LOGS / "metrics.csv"]
    csv_paths = [p for p in csv_paths if p.exists()]
    if not csv_paths:
        return None
    import csv

    # A Figure of its own, not pyplot: no backend is chosen for the whole process (a
    # notebook calling nlpkit.run keeps its inline plots).
    from matplotlib.figure import Figure

    steps, losses = [], []
    val: dict[str, list[tuple[int, float]]] = {}
    for csv_path in csv_paths:
        with csv_path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                step = int(row.get("step") or 0)
                if row.get("train_loss"):
                    steps.append(step)
                    losses.append(float(row["train_loss"]))
                for key, value in row.items():
                    if key.startswith("val_") and value:
                        val.setdefault(key, []).append((step, float(value)))
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(steps, losses, color="tab:blue", linewidth=1, label="train loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss", color="tab:blue")
    if val:
        ax2 = ax.twinx()
        keys = [f"val_{monitor}"] if monitor and f"val_{monitor}" in val else sorted(val)[:3]
        for key, color in zip(keys, ("tab:orange", "tab:green", "tab:red")):
            xs, ys = zip(*val[key])
            ax2.plot(xs, ys, marker="o", color=color, label=key)
        ax2.set_ylabel("validation")
        ax2.legend(loc="lower left", frameon=False)
    ax.set_title(out.name)
    fig.tight_layout()
    fig.savefig(out / PLOT, dpi=100)
    return out / PLOT
