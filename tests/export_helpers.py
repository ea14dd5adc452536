"""Helpers of the export tests: tiny trained runs, and what plain transformers predicts
from an export, computed the way a transformers user would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

TOLERANCE = 1e-5


def tiny_run(out: Path, encoder: Path, task: str, data: dict[str, Any], head: dict[str, Any] | None = None,
             max_length: int = 32, epochs: int = 1) -> Path:
    """A tiny run of ``task`` (fp32, seeded) in ``out``; its run directory."""
    import nlpkit

    recipe = {
        "task": task,
        "encoder": {"name": str(encoder), "max_length": max_length},
        "data": {"cache": False, **data},
        "head": head or {},
        "train": {"epochs": epochs, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 7},
        "trainer": {"enable_progress_bar": False},
        "output": {"dir": str(out), "report": False},
    }
    return nlpkit.run(recipe).run_dir


def export_meta(export: Path) -> dict[str, Any]:
    return json.loads((export / "nlpkit-export.json").read_text(encoding="utf-8"))


def hf_logits(export: Path, auto_class: str, *args: Any, trust_remote_code: bool = False, **kwargs: Any) -> Any:
    """The output of the export, loaded with plain transformers, on one tokenized input."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(export, trust_remote_code=trust_remote_code)
    model = getattr(transformers, auto_class).from_pretrained(export, trust_remote_code=trust_remote_code)
    with torch.inference_mode():
        return model(**tokenizer(*args, return_tensors="pt", **kwargs))


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE
