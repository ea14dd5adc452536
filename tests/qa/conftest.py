"""Shared fixtures of the QA plugin's tests: a tiny BERT whose vocabulary covers the
synthetic questions, and small SQuAD-style data files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

COUNTRIES = [
    ("france", "paris"), ("italy", "rome"), ("spain", "madrid"), ("germany", "berlin"),
    ("japan", "tokyo"), ("egypt", "cairo"), ("peru", "lima"), ("kenya", "nairobi"),
]
FILLER = "the weather was mild and the river flowed past old stone bridges near the market ."


def make_rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """Questions whose answer is a capital named in a context of a few sentences."""
    rows = []
    for i in range(n):
        country, capital = COUNTRIES[(i + offset) % len(COUNTRIES)]
        other, other_capital = COUNTRIES[(i + offset + 3) % len(COUNTRIES)]
        context = f"{FILLER} the capital of {other} is {other_capital} . the capital of {country} is {capital} . {FILLER}"
        start = context.index(f"is {capital} .") + 3
        rows.append({
            "id": f"q{offset + i}",
            "question": f"what is the capital of {country} ?",
            "context": context,
            "answers": {"text": [capital], "answer_start": [start]},
        })
    return rows


def squad_json(rows: list[dict[str, Any]]) -> dict[str, Any]:
    paragraphs = [
        {
            "context": r["context"],
            "qas": [{
                "id": r["id"],
                "question": r["question"],
                "answers": [{"text": t, "answer_start": s} for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])],
            }],
        }
        for r in rows
    ]
    return {"version": "1.1", "data": [{"title": "capitals", "paragraphs": paragraphs}]}


def train_tiny_qa(root: Path, encoder: Path, max_length: int, **data: Any) -> Path:
    """A tiny QA run under ``root``: 16 capital questions to train on, 4 to validate."""
    from tests.export_helpers import tiny_run

    train, dev = root / "train.json", root / "dev.json"
    train.write_text(json.dumps(squad_json(make_rows(16))), encoding="utf-8")
    dev.write_text(json.dumps(squad_json(make_rows(4, offset=16))), encoding="utf-8")
    return tiny_run(root / "run", encoder, "qa", {"train": str(train), "validation": str(dev), **data},
                    max_length=max_length)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlpkit.testing import tiny_bert

    texts = [r["question"] + " " + r["context"] for r in make_rows(len(COUNTRIES))]
    texts += ["who when where why how many words long context answer window"] * 2
    return tiny_bert(tmp_path_factory.mktemp("tiny-qa") / "bert", texts, hidden_size=32, vocab_size=300)


@pytest.fixture(scope="session")
def tokenizer(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture()
def squad_files(tmp_path: Path) -> tuple[Path, Path]:
    train, dev = tmp_path / "train.json", tmp_path / "dev.json"
    train.write_text(json.dumps(squad_json(make_rows(24))))
    dev.write_text(json.dumps(squad_json(make_rows(8, offset=1))))
    return train, dev
