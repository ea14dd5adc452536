"""SST-2 subset: nlpkit against the Hugging Face Trainer, same encoder and settings.

Both train the default MiniLM encoder on the first N SST-2 training sentences for one
epoch (batch 32, lr 5e-5, 10% warm-up, weight decay 0.01, clip 1.0, length-grouped
batches, dynamic padding, the same precision) and are scored on the 872 dev sentences.
The sides alternate, each run in a fresh process (nlpkit changes process-wide malloc
settings, which would otherwise carry over to the Trainer), so machine noise hits all
alike; the script prints each round, then the median throughputs (training examples per
second over the training epoch, first batch to last: see trainer_clock.py), the dev
accuracies and the ratio. With
``--without-fast-paths`` a third side runs nlpkit with ``NLPKIT_CPU_FAST_PATHS=0``.

    python benchmarks/sst2_vs_hf_trainer.py --limit 2000 --rounds 3 --without-fast-paths

Needs `pip install -e '.[compare]'` (the Trainer needs accelerate).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "sst2"


def read_tsv(path: Path, limit: int | None = None) -> tuple[list[str], list[int]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    rows = rows[:limit] if limit else rows
    return [r["sentence"].strip() for r in rows], [int(r["label"]) for r in rows]


def run_nlpkit(args: argparse.Namespace, out: Path) -> tuple[float, float]:
    import nlpkit

    recipe = {
        "task": "classification",
        "encoder": {"name": "minilm", "max_length": 64},
        "data": {"train": str(DATA / "train.tsv"), "validation": str(DATA / "dev.tsv"),
                 "limit_train": args.limit, "cache": False},
        "head": {"pooling": args.pooling},
        "train": {"epochs": 1, "batch_size": 32, "lr": 5e-5, "seed": args.seed, "precision": args.precision,
                  "warmup_ratio": 0.1, "weight_decay": 0.01, "max_grad_norm": 1.0},
        "trainer": {"enable_progress_bar": False},
        "output": {"dir": str(out)},
    }
    result = nlpkit.run(recipe, overwrite=True)
    return result.metrics["training"]["train_examples_per_second"], result.metrics["validation"]["accuracy"]


def run_trainer(args: argparse.Namespace, out: Path) -> tuple[float, float]:
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                              Trainer, TrainingArguments)

    from nlpkit.encoders import minilm_path
    from trainer_clock import EpochClock

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    texts, labels = read_tsv(DATA / "train.tsv", args.limit)
    train = Dataset.from_dict({"text": texts, "label": labels}).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=64), batched=True, remove_columns=["text"]
    )
    torch.manual_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    training = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=32, learning_rate=5e-5, num_train_epochs=1,
        warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0, seed=args.seed,
        train_sampling_strategy="group_by_length", bf16=args.precision == "bf16-mixed", use_cpu=True,
        report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no", disable_tqdm=True,
    )
    epoch = EpochClock()
    trainer = Trainer(model=model, args=training, train_dataset=train,
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[epoch])
    stats = trainer.train().metrics
    # Score with a plain sequential loop: the Trainer's predict() reorders rows when the
    # length-grouped sampler is on.
    dev_texts, dev_labels = read_tsv(DATA / "dev.tsv")
    model.eval()
    correct = 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed"):
        for start in range(0, len(dev_texts), 64):
            batch = tokenizer(dev_texts[start:start + 64], truncation=True, max_length=64,
                              padding=True, return_tensors="pt")
            predicted = model(**batch).logits.argmax(-1).tolist()
            correct += sum(p == g for p, g in zip(predicted, dev_labels[start:start + 64]))
    # The same span as nlpkit's figure (trainer_clock.py); the Trainer's own figure to stderr.
    print(f"Trainer's own train_samples_per_second: {stats['train_samples_per_second']}", file=sys.stderr)
    return len(texts) / epoch.seconds, correct / len(dev_labels)


SIDES = {"nlpkit": run_nlpkit, "nlpkit-slow": run_nlpkit, "trainer": run_trainer}


def run_side(args: argparse.Namespace, name: str, out: Path) -> tuple[float, float]:
    """One side in a fresh interpreter; it prints its result as the last line."""
    env = dict(os.environ, NLPKIT_CPU_FAST_PATHS="0" if name == "nlpkit-slow" else "1")
    command = [sys.executable, __file__, "--side", name, "--out", str(out), "--limit", str(args.limit),
               "--precision", args.precision, "--pooling", args.pooling, "--seed", str(args.seed)]
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["speed"], result["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=2000, help="training sentences")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of all sides")
    parser.add_argument("--precision", default="auto", choices=["auto", "32", "bf16-mixed"],
                        help="auto: what nlpkit picks on this hardware (bf16 where it has bf16 units)")
    parser.add_argument("--pooling", default="mean", choices=["mean", "cls", "pooler"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--without-fast-paths", action="store_true",
                        help="also run nlpkit with NLPKIT_CPU_FAST_PATHS=0 (nlpkit/cpu.py)")
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from nlpkit.precision import resolve_precision

    args.precision = resolve_precision(args.precision)
    if args.side:  # a child process: one run, the result on stdout's last line
        speed, accuracy = SIDES[args.side](args, args.out)
        print(json.dumps({"speed": speed, "accuracy": accuracy}))
        return
    sides = ["nlpkit", "trainer"] + (["nlpkit-slow"] if args.without_fast_paths else [])
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name in sides:
                started = time.time()
                speed, accuracy = run_side(args, name, Path(tmp) / f"{name}-{round_}")
                results[name].append((speed, accuracy))
                print(f"round {round_ + 1} {name:11s} {speed:7.1f} train examples/s  dev accuracy {accuracy:.4f}"
                      f"  ({time.time() - started:.0f} s)", flush=True)
    speed = {name: statistics.median(s for s, _ in runs) for name, runs in results.items()}
    accuracy = {name: statistics.median(a for _, a in runs) for name, runs in results.items()}
    print(f"\nSST-2, {args.limit} training sentences, 1 epoch, precision {args.precision}, seed {args.seed}")
    labels = {"nlpkit": "nlpkit", "trainer": "Trainer", "nlpkit-slow": "nlpkit, NLPKIT_CPU_FAST_PATHS=0"}
    for name in sides:
        print(f"{labels[name]:32s} {speed[name]:7.1f} examples/s   dev accuracy {accuracy[name]:.4f}")
    print(f"throughput ratio nlpkit / Trainer: {speed['nlpkit'] / speed['trainer']:.2f}x; "
          f"accuracy difference {100 * (accuracy['nlpkit'] - accuracy['trainer']):+.1f} points")
    if args.without_fast_paths:
        print(f"fast paths: nlpkit / nlpkit without them: {speed['nlpkit'] / speed['nlpkit-slow']:.2f}x")


if __name__ == "__main__":
    main()
