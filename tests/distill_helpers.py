"""Helpers of the distillation tests of every task family."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def transfer_recipe(task: str, encoder: Path, data: dict[str, Any], teacher: Path, unlabelled: Path, out: Path,
                    max_length: int, **head: Any) -> dict[str, Any]:
    """A 1-layer student (the encoder's layer 1) of ``teacher``, trained one epoch on
    ``data`` and the ``unlabelled`` inputs with hidden-state matching, in ``out``."""
    return {
        "task": task,
        "encoder": {"name": str(encoder), "max_length": max_length, "layers": [1]},
        "data": data,
        "head": head,
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "trainer": {"enable_progress_bar": False},
        "distill": {"teacher": str(teacher), "unlabelled": str(unlabelled), "hidden_weight": 1.0},
        "output": {"dir": str(out), "report": False},
    }
