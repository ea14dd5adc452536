"""``nlpkit export --format hf`` of pre-training: ``BertForPreTraining`` (MLM + NSP), which
``AutoModelForMaskedLM`` and the fill-mask pipeline load too; without NSP, ``BertForMaskedLM``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nlpkit
from nlpkit.export import export
from tests.export_helpers import close, export_meta

SENTENCE = "the castle was built in 1204 by a local [MASK] ."


def pretrain(root: Path, corpus: Path, objectives: list[str]) -> Path:
    return nlpkit.run({
        "task": "pretrain",
        "encoder": {"init": "scratch", "train_tokenizer": True, "vocab_size": 200, "max_length": 48,
                    "config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}},
        "data": {"train": str(corpus), "validation_documents": 2, "cache": False},
        "head": {"objectives": objectives},
        "train": {"epochs": 1, "batch_size": 8, "lr": 3e-3, "precision": "32", "seed": 7},
        "trainer": {"enable_progress_bar": False},
        "output": {"dir": str(root / "-".join(objectives)), "report": False},
    }).run_dir


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export-pretrain")


def nlpkit_mask_scores(run: Path, text: str) -> torch.Tensor:
    """nlpkit's MLM probabilities at the [MASK] of ``text``, from the run's own model."""
    predictor = nlpkit.load(run)
    encoded = predictor.tokenizer(text, return_tensors="pt")
    labels = torch.full_like(encoded["input_ids"], -100)
    labels[encoded["input_ids"] == predictor.tokenizer.mask_token_id] = 0
    with torch.inference_mode():
        output = predictor.model({**encoded, "labels": labels})
    return torch.softmax(output["mlm_logits"][0].double(), dim=-1)


def test_mlm_and_nsp_export_as_bert_for_pretraining(root: Path, corpus_file: Path) -> None:
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining, pipeline

    run = pretrain(root, corpus_file, ["mlm", "nsp"])
    out = export(run, root / "export")
    meta = export_meta(out)["hf"]
    assert meta["architecture"] == "BertForPreTraining" and meta["also_loads"] == ["AutoModelForMaskedLM"]
    assert type(AutoModelForPreTraining.from_pretrained(out)).__name__ == "BertForPreTraining"
    assert type(AutoModelForMaskedLM.from_pretrained(out)).__name__ == "BertForMaskedLM"
    expected = nlpkit_mask_scores(run, SENTENCE)
    for row in pipeline("fill-mask", model=str(out), top_k=5)(SENTENCE):
        assert close(row["score"], float(expected[row["token"]]))
    assert pipeline("fill-mask", model=str(out), top_k=1)(SENTENCE)[0]["token"] == int(expected.argmax())


def test_mlm_only_exports_as_bert_for_masked_lm(root: Path, corpus_file: Path) -> None:
    from transformers import pipeline

    run = pretrain(root, corpus_file, ["mlm"])
    out = export(run, root / "export-mlm")
    assert export_meta(out)["hf"]["architecture"] == "BertForMaskedLM"
    expected = nlpkit_mask_scores(run, SENTENCE)
    best = pipeline("fill-mask", model=str(out), top_k=1)(SENTENCE)[0]
    assert best["token"] == int(expected.argmax()) and close(best["score"], float(expected.max()))
