"""Helpers shared by the training tests: reading run outputs, comparing weights, and the
environment of a training subprocess."""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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
