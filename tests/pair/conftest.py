"""Fixtures of the pair/sentiment/NSP tests: small files and recipes on the tiny BERT."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch

# Tiny models: one thread is fastest, and the 2-core machines are shared.
torch.set_num_threads(1)

PARAPHRASES = [
    ("the movie was great", "the film was wonderful"),
    ("i loved it", "i truly loved the story"),
    ("a terrible boring film", "an awful and dull movie"),
    ("the actors were wonderful", "the actors were great"),
]
UNRELATED = [
    ("the movie was great", "angela merkel visited paris on monday"),
    ("i loved it", "what is the capital of france"),
    ("a terrible boring film", "paris is the capital"),
    ("the actors were wonderful", "i hated every minute"),
]
RATED = [
    ("truly a good and fun story , wonderful actors", 5),
    ("a great fun movie", 5),
    ("i loved it", 4),
    ("good story but slow", 3),
    ("dull and slow", 2),
    ("awful , bad plot , i hated every minute", 1),
    ("a terrible boring film", 1),
]


def write_pairs_tsv(path: Path, n: int, seed: int) -> Path:
    """MRPC-shaped: BOM, header ``Quality #1 ID #2 ID #1 String #2 String``."""
    rng = random.Random(seed)
    lines = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    for i in range(n):
        label, (a, b) = (1, rng.choice(PARAPHRASES)) if i % 2 else (0, rng.choice(UNRELATED))
        lines.append(f"{label}\t{i}\t{i + 1000}\t{a}\t{b}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_ratings_jsonl(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    rows = [dict(zip(("text", "label"), rng.choice(RATED))) for _ in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def pair_recipe(tiny_encoder: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "task": "pair",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {
            "train": str(write_pairs_tsv(tmp_path / "train.tsv", 48, seed=1)),
            "validation": str(write_pairs_tsv(tmp_path / "dev.tsv", 16, seed=2)),
        },
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }


@pytest.fixture
def rating_recipe(tiny_encoder: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "task": "sentiment",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {
            "train": str(write_ratings_jsonl(tmp_path / "train.jsonl", 64, seed=1)),
            "validation": str(write_ratings_jsonl(tmp_path / "dev.jsonl", 16, seed=2)),
        },
        "head": {"type": "regression", "range": [1, 5]},
        "train": {"epochs": 8, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
