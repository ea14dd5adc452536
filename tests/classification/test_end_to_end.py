"""Classification runs beyond the single-label TSV case."""

from __future__ import annotations

import json
from pathlib import Path

import nlpkit

TOPICS = {
    "a great fun movie": ["film", "positive"],
    "i loved it": ["positive"],
    "a terrible boring film": ["film", "negative"],
    "i hated every minute": ["negative"],
}


def test_multi_label_run_predicts_label_sets(tiny_encoder: Path, tmp_path: Path) -> None:
    rows = [json.dumps({"text": text, "label": labels}) for text, labels in TOPICS.items()] * 8
    (tmp_path / "train.jsonl").write_text("\n".join(rows) + "\n")
    result = nlpkit.run({
        "task": "classification",
        "encoder": {"name": str(tiny_encoder), "max_length": 16},
        "data": {"train": str(tmp_path / "train.jsonl"), "validation": str(tmp_path / "train.jsonl")},
        "head": {"multi_label": True},
        "train": {"epochs": 8, "batch_size": 8, "lr": 3e-3, "precision": "32"},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    })
    metrics = result.metrics["validation"]
    assert set(metrics["per_class"]) == {"film", "negative", "positive"}
    assert metrics["micro_f1"] > 0.8
    prediction = nlpkit.load(result.run_dir).predict("a terrible boring film")
    assert set(prediction["probabilities"]) == {"film", "negative", "positive"}
    assert prediction["labels"] == sorted(l for l, p in prediction["probabilities"].items() if p >= 0.5)
