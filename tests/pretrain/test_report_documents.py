"""The report of a pre-training run: its held-out documents' perplexity, recomputed from
the prediction records and equal to metrics.json's."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nlpkit.report.documents import analyse, is_pretraining


def record(document: str, loss: float, masked: int, correct: int) -> dict:
    return {"document": document, "mlm_loss_sum": loss, "masked": masked, "correct": correct,
            "perplexity": math.exp(loss / masked) if masked else None}


def test_all_documents_together_are_scored_by_their_tokens_not_their_mean() -> None:
    records = [record("a", 2.0, 4, 3), record("b", 30.0, 10, 1), record("empty", 0.0, 0, 0)]
    found = analyse(records)
    assert is_pretraining(records) and not is_pretraining([{"label": "x", "gold": "x"}])
    assert found.perplexity == pytest.approx(math.exp(32.0 / 14)) and found.mlm_accuracy == pytest.approx(4 / 14)
    assert found.count == 3 and found.masked == 14
    # The document without a masked token has no perplexity: counted, not ranked.
    assert [r["document"] for r in found.hardest] == ["b", "a"] and found.perplexities == [math.exp(0.5), math.exp(3.0)]
    assert found.hardest[1]["mlm_accuracy"] == 0.75


def test_a_pretraining_run_reports_its_documents(corpus_file: Path, tmp_path: Path, monkeypatch) -> None:
    import nlpkit
    from nlpkit.report.facts import read_facts
    from nlpkit.report.render import context
    from nlpkit.rundir import RunDir

    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path / "cache"))
    result = nlpkit.run(
        {
            "task": "pretrain",
            "encoder": {
                "init": "scratch", "train_tokenizer": True, "vocab_size": 200, "max_length": 48,
                "config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
            },
            "data": {"train": str(corpus_file), "validation_documents": 2},
            "head": {"objectives": ["mlm"]},
            "train": {"epochs": 1, "batch_size": 8, "lr": 3e-3, "precision": "32"},
            "output": {"dir": str(tmp_path / "pretrain")},
        }
    )
    run_dir = Path(result.run_dir)
    shown = context(read_facts(RunDir(run_dir), "validation"))["view"]
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["validation"]
    assert shown["kind"] == "documents" and shown["mismatches"] == []
    assert shown["result"].count == 2 and shown["result"].perplexity == pytest.approx(metrics["perplexity"], rel=1e-6)
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Held-out documents" in page and "Documents by perplexity" in page and 'src="data:image/png' in page
