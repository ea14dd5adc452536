"""Training: perplexity falls from scratch; end to end through ``nlpkit.run`` once the core has it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from nlpkit.data import collate
from nlpkit.scoring import compute_metrics
from nlpkit.task import Counts

from .conftest import make_task


def _evaluate(task, encoder, head, features, tokenizer) -> dict[str, float]:
    encoder.eval(), head.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(features), 16):
            chunk = features[start : start + 16]
            batch = collate(task, chunk, tokenizer, training=False)
            output = head(encoder(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}), batch)
            outputs.extend(task.split_outputs(output, batch))
    return outputs


def _grammar_documents(n: int, seed: int) -> list:
    """Documents of sentences from a small grammar: structure a tiny MLM can learn and
    that generalises to held-out documents (unlike memorising a few real articles)."""
    import random

    from nlpkit_pretrain.corpus import Document

    rng = random.Random(seed)
    nouns = ["cat", "dog", "bird", "horse", "fish", "child", "farmer", "teacher"]
    adjectives = ["small", "big", "old", "young", "happy", "quiet"]
    verbs = ["sees", "likes", "follows", "feeds", "finds", "helps"]
    places = ["garden", "river", "market", "school", "forest"]

    def sentence() -> str:
        return (
            f"The {rng.choice(adjectives)} {rng.choice(nouns)} {rng.choice(verbs)} the {rng.choice(nouns)} "
            f"in the {rng.choice(places)} ."
        )

    return [Document([" ".join(sentence() for _ in range(4)) for _ in range(3)], "<grammar>", i + 1) for i in range(n)]


def test_scratch_perplexity_falls_each_epoch(tmp_path: Path) -> None:
    """A plain loop over the task's contract (what the core's Lightning module does)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from nlpkit.testing import tiny_bert

    torch.manual_seed(0)
    documents = _grammar_documents(40, seed=0)
    train_docs, held_out = documents[:36], documents[36:]
    path = tiny_bert(tmp_path / "vocab", [p for d in train_docs for p in d.paragraphs], vocab_size=200)
    tokenizer = AutoTokenizer.from_pretrained(path)
    task = make_task(encoder={"name": str(path), "init": "scratch", "max_length": 64})
    train = task.encode(train_docs, tokenizer, training=True, counts=Counts())
    validation = task.encode(held_out, tokenizer, training=False, counts=Counts())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    encoder = BertModel(config)
    head = task.build_head(encoder)
    optimizer = torch.optim.AdamW(list(encoder.parameters()) + list(head.parameters()), lr=2e-3)
    perplexities = []
    for epoch in range(4):
        encoder.train(), head.train()
        order = torch.randperm(len(train)).tolist()
        for start in range(0, len(order), 8):
            batch = collate(task, [train[i] for i in order[start : start + 8]], tokenizer, training=True)
            output = head(encoder(**{k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}), batch)
            loss = head.loss(output, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        outputs = _evaluate(task, encoder, head, validation, tokenizer)
        predictions = task.decode(held_out, validation, outputs)
        perplexities.append(compute_metrics(task, held_out, predictions)["perplexity"])
    assert all(b < a for a, b in zip(perplexities, perplexities[1:])), perplexities
    assert perplexities[-1] < 0.5 * perplexities[0] and math.isfinite(perplexities[-1]), perplexities


def test_end_to_end_scratch_then_fine_tune(corpus_file: Path, tmp_path: Path, monkeypatch) -> None:
    import nlpkit

    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path / "cache"))
    result = nlpkit.run(
        {
            "task": "pretrain",
            "encoder": {
                "init": "scratch",
                "train_tokenizer": True,
                "vocab_size": 200,
                "max_length": 48,
                "config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
            },
            "data": {"train": str(corpus_file), "validation_documents": 2},
            "train": {"epochs": 3, "batch_size": 8, "lr": 3e-3, "precision": "32", "log_every_n_steps": 1},
            "output": {"dir": str(tmp_path / "pretrain"), "report": False},
        }
    )
    validation = result.metrics["validation"]
    assert math.isfinite(validation["perplexity"]) and 0 <= validation["nsp_accuracy"] <= 1
    model_dir = Path(result.run_dir) / "model"
    assert (model_dir / "config.json").is_file() and (model_dir / "model.safetensors").is_file()

    # Held-out perplexity of the run's model, recomputed outside the run: same masks, same number.
    from nlpkit.evaluation import evaluate_checkpoint

    recipe = Path(result.run_dir) / "recipe.yaml"
    again = evaluate_checkpoint(recipe, result.run_dir, ["train.precision=32"])
    assert again["perplexity"] == pytest.approx(validation["perplexity"], rel=1e-4)
    from click.testing import CliRunner

    from nlpkit.cli import main

    cli = CliRunner().invoke(main, ["evaluate", str(result.run_dir), "--recipe", str(recipe), "train.precision=32"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)["perplexity"] == pytest.approx(validation["perplexity"], rel=1e-4)
    config = model_dir / "config.json"
    # A fine-tune recipe takes the checkpoint as encoder.name.
    data = tmp_path / "cls.tsv"
    data.write_text("text\tlabel\n" + "".join(f"good film {i}\tpos\nbad film {i}\tneg\n" for i in range(8)))
    fine = nlpkit.run(
        {
            "task": "classification",
            "encoder": {"name": str(config.parent), "max_length": 32},
            "data": {"train": str(data), "validation": str(data)},
            "train": {"epochs": 1, "batch_size": 8, "precision": "32"},
            "output": {"dir": str(tmp_path / "cls"), "report": False},
        }
    )
    assert fine.metrics
