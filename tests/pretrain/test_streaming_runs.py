"""Pre-training runs on a sharded corpus, in subprocesses: an exact mid-epoch --resume,
and two DDP processes that train on disjoint parts of each epoch."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import nlpkit
from nlpkit.shards import ShardedFeatures

from ..helpers import child_env, same_weights
from ..test_resume import KILLER
from .test_streaming import grammar_corpus

pytestmark = pytest.mark.integration  # each test runs nlpkit in a subprocess


def pretrain_recipe(tiny_model: Path, tmp_path: Path) -> dict:
    return {
        "task": "pretrain",
        "encoder": {"name": str(tiny_model), "init": "scratch", "max_length": 24,
                    "config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}},
        "data": {"train": str(grammar_corpus(tmp_path / "corpus.txt", 40)), "validation_documents": 4,
                 "cache_dir": str(tmp_path / "cache")},
        "train": {"epochs": 2, "batch_size": 4, "lr": 1e-3, "precision": "32", "seed": 7},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }


def the_shards(tmp_path: Path) -> ShardedFeatures:
    (folder,) = (tmp_path / "cache/features").glob("pretrain-train-*.shards")
    index = json.loads((folder / "index.json").read_text())
    return ShardedFeatures(folder, index["key"])


def test_resume_mid_epoch_on_the_sharded_corpus_matches_an_uninterrupted_run(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nlpkit.module as module

    trained: list[list[int]] = []
    monkeypatch.setattr(module.TaskModule, "on_train_batch_end",
                        lambda self, outputs, batch, i: trained.append(batch["feature_index"].tolist()))
    recipe = pretrain_recipe(tiny_model, tmp_path)
    recipe["train"]["checkpoint_every_n_steps"] = 5
    recipe_path = tmp_path / "pretrain.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe))
    straight_run = nlpkit.run(recipe, ["output.dir=" + str(tmp_path / "straight")])
    straight, trained[:] = list(trained), []
    steps_per_epoch = math.ceil(len(the_shards(tmp_path)) / 4)
    assert steps_per_epoch > 8  # the kill below falls inside the first epoch

    before_kill = tmp_path / "killed.jsonl"
    killed = subprocess.run([sys.executable, "-c", KILLER, str(recipe_path), "7", str(before_kill)],
                            env=child_env(), capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = nlpkit.run(recipe_path, resume=True)

    steps = resumed.metrics["training"]["optimizer_steps"]
    assert steps == straight_run.metrics["training"]["optimizer_steps"] == 2 * steps_per_epoch
    checkpointed = [json.loads(line) for line in before_kill.read_text().splitlines()][:5]
    assert checkpointed == straight[:5] and trained == straight[5:]  # every sequence once per epoch, in order
    assert same_weights(tmp_path / "straight", tmp_path / "run")  # masks drawn as without the crash
    assert resumed.metrics["validation"]["perplexity"] == straight_run.metrics["validation"]["perplexity"]


RECORDER = textwrap.dedent(
    """
    import json, sys
    import nlpkit, nlpkit.module as m

    def record(self, outputs, batch, batch_idx):
        with open(f"{sys.argv[2]}.{self.global_rank}", "a") as seen:
            seen.write(json.dumps([self.current_epoch, batch["feature_index"].tolist()]) + "\\n")

    m.TaskModule.on_train_batch_end = record
    if __name__ == "__main__":
        nlpkit.run(sys.argv[1], sys.argv[3:])
    """
)


def test_two_ddp_processes_train_on_disjoint_parts_of_each_epoch(tiny_model: Path, tmp_path: Path) -> None:
    recipe_path = tmp_path / "pretrain.yaml"
    recipe_path.write_text(yaml.safe_dump(pretrain_recipe(tiny_model, tmp_path)))
    script = tmp_path / "record.py"  # Lightning starts the second process with the same command line
    script.write_text(RECORDER)
    seen = tmp_path / "seen"
    result = subprocess.run(
        [sys.executable, str(script), str(recipe_path), str(seen),
         "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu"],
        env=child_env(), capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    count = len(the_shards(tmp_path))
    names = sorted(p.name for p in (tmp_path / "cache/features").iterdir())
    assert [n.split("-")[1] for n in names] == ["train", "validation"] and not any(n.startswith(".") for n in names)
    orders = []
    for epoch in (0, 1):
        ranks = []
        for rank in (0, 1):
            rows = [json.loads(line) for line in Path(f"{seen}.{rank}").read_text().splitlines()]
            ranks.append([i for e, batch in rows if e == epoch for i in batch])
        first, second = ranks
        # Each process trains on half of the epoch (the distributed sampler repeats one
        # sequence when the count is odd, to give both as many): together, the epoch.
        assert len(first) == len(second) == math.ceil(count / 2)
        assert set(first) | set(second) == set(range(count))
        assert len(set(first) & set(second)) == count % 2
        orders.append(first + second)
    assert orders[0] != orders[1]  # Lightning hands the epoch on to our sampler inside its distributed one
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert metrics["training"]["optimizer_steps"] == 2 * math.ceil(math.ceil(count / 2) / 4)
