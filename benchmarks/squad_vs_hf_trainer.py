"""SQuAD v1.1 subset: nlpkit against the Hugging Face Trainer, same encoder and settings.

Both train the default MiniLM encoder on the first N questions of train-from-dev.json
(the first 38 articles of the official dev file) in the style of the official run_qa
example: windows of 384 tokens, an overlap (run_qa's doc_stride) of 128 context tokens
between consecutive windows, a window that does not hold the whole first gold answer
labelled with [CLS]; batch 32, lr 5e-5, 10% warm-up, weight decay 0.01, clip 1.0, the
same precision. The Trainer side keeps run_qa's defaults (`--trainer-setup example`:
every window padded to 384 tokens, random batches) or gets what nlpkit does by default
(`--trainer-setup grouped`: length-grouped batches, dynamic padding). Both are scored on
eval-from-dev.json (the other 10 articles) with nlpkit_qa's SQuAD v1.1 metric; the
Trainer model's start/end logits, predicted window by window in a plain sequential loop,
go through nlpkit_qa's own post-processing (n-best 20, answers of at most 30 tokens), so
that the two differ only in training. The two alternate in one process so machine noise
hits both alike; the script prints each round, then the median throughputs (training
windows per second, validation excluded: both count windows, not questions), the
exact-match and F1 scores and the ratio.

    python benchmarks/squad_vs_hf_trainer.py --limit 1500 --epochs 1 --rounds 1

Needs `pip install -e '.[compare]'` (the Trainer needs accelerate).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "squad"
MAX_LENGTH = 384  # tokens per window
OVERLAP = 128  # context tokens shared by consecutive windows (run_qa's doc_stride)
N_BEST = 20
MAX_ANSWER_LENGTH = 30  # tokens


def read_squad(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """Questions of a SQuAD v1.1 file in file order: id, question, context, answers."""
    rows = [
        {"id": qa["id"], "question": qa["question"], "context": paragraph["context"],
         "answers": {"text": [a["text"] for a in qa["answers"]], "answer_start": [a["answer_start"] for a in qa["answers"]]}}
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    return rows[:limit] if limit else rows


def run_nlpkit(args: argparse.Namespace, out: Path) -> tuple[float, float, float]:
    import nlpkit

    recipe = {
        "task": "qa",
        "encoder": {"name": "minilm", "max_length": MAX_LENGTH},
        "data": {"train": str(DATA / "train-from-dev.json"), "validation": str(DATA / "eval-from-dev.json"),
                 "window_overlap": OVERLAP, "limit_train": args.limit, "limit_validation": args.eval_limit,
                 "cache": False},
        "head": {"n_best": N_BEST, "max_answer_length": MAX_ANSWER_LENGTH},
        "train": {"epochs": args.epochs, "batch_size": 32, "lr": 5e-5, "seed": args.seed, "precision": args.precision,
                  "warmup_ratio": 0.1, "weight_decay": 0.01, "max_grad_norm": 1.0},
        # Validate after the last epoch only: nlpkit keeps the best validated epoch, and the
        # Trainer is scored after its last, so both are scored on the last epoch's model.
        "trainer": {"enable_progress_bar": False, "check_val_every_n_epoch": args.epochs},
        "output": {"dir": str(out)},
    }
    result = nlpkit.run(recipe, overwrite=True)
    validation = result.metrics["validation"]
    return result.metrics["training"]["train_examples_per_second"], validation["exact_match"], validation["f1"]


def run_trainer(args: argparse.Namespace, out: Path) -> tuple[float, float, float]:
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    from nlpkit.encoders import minilm_path
    from trainer_clock import EpochClock
    from nlpkit_qa.metric import SquadV1
    from nlpkit_qa.postprocess import Window, best_answers

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)

    def windows(batch: dict[str, list], pad: bool = False) -> Any:
        # run_qa: strip the questions' leading white space, cut only the context; by
        # default its windows are padded to max_seq_length, which in transformers 5 takes
        # padding="max_length" (the old tokenizer flag for it is silently ignored).
        return tokenizer([q.lstrip() for q in batch["question"]], batch["context"], truncation="only_second",
                         max_length=MAX_LENGTH, stride=OVERLAP, return_overflowing_tokens=True,
                         return_offsets_mapping=True, padding="max_length" if pad else False)

    def prepare_train_features(batch: dict[str, list]) -> dict[str, list]:
        # run_qa's prepare_train_features: the token span of the first gold answer when the
        # window holds all of it, else the [CLS] index.
        encoded = windows(batch, pad=args.trainer_setup == "example")
        starts, ends = [], []
        for w, offsets in enumerate(encoded["offset_mapping"]):
            cls_index = encoded["input_ids"][w].index(tokenizer.cls_token_id)
            answers = batch["answers"][encoded["overflow_to_sample_mapping"][w]]
            start_char = answers["answer_start"][0]
            end_char = start_char + len(answers["text"][0])
            context = [i for i, s in enumerate(encoded.sequence_ids(w)) if s == 1]
            first, last = context[0], context[-1]
            if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
                starts.append(cls_index)
                ends.append(cls_index)
                continue
            while first < len(offsets) and offsets[first][0] <= start_char:
                first += 1
            while offsets[last][1] >= end_char:
                last -= 1
            starts.append(first - 1)
            ends.append(last + 1)
        encoded["start_positions"], encoded["end_positions"] = starts, ends
        encoded.pop("offset_mapping")
        encoded.pop("overflow_to_sample_mapping")
        return encoded

    train_rows = read_squad(DATA / "train-from-dev.json", args.limit)
    train = Dataset.from_list(train_rows).map(
        prepare_train_features, batched=True, remove_columns=["id", "question", "context", "answers"]
    )
    torch.manual_seed(args.seed)
    model = AutoModelForQuestionAnswering.from_pretrained(path)
    training = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=32, learning_rate=5e-5, num_train_epochs=args.epochs,
        warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0, seed=args.seed,
        train_sampling_strategy="group_by_length" if args.trainer_setup == "grouped" else "random",
        bf16=args.precision == "bf16-mixed", use_cpu=True,
        report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no", disable_tqdm=True,
    )
    epoch = EpochClock()  # the same span as nlpkit's figure; the Trainer's own one to stderr
    trainer = Trainer(model=model, args=training, train_dataset=train,
                      data_collator=DataCollatorWithPadding(tokenizer), callbacks=[epoch])
    stats = trainer.train().metrics
    print(f"Trainer's own train_samples_per_second: {stats['train_samples_per_second']}", file=sys.stderr)

    # run_qa's prepare_validation_features, kept as plain lists: which question each window
    # belongs to, its first context token and the character spans of its context tokens
    # (what nlpkit_qa.postprocess.Window holds).
    questions = read_squad(DATA / "eval-from-dev.json", args.eval_limit)
    encoded = windows({"question": [q["question"] for q in questions], "context": [q["context"] for q in questions]})
    features = []
    for w, offsets in enumerate(encoded["offset_mapping"]):
        context = [i for i, s in enumerate(encoded.sequence_ids(w)) if s == 1]
        context_start = context[0] if context else len(offsets) - 1
        features.append({"question": encoded["overflow_to_sample_mapping"][w], "context_start": context_start,
                         "offsets": offsets[context_start:context_start + len(context)]})
    model_keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in encoded]
    # Predict with a plain sequential loop: the Trainer's predict() reorders rows when the
    # length-grouped sampler is on.
    model.eval()
    per_question: dict[int, list[Window]] = defaultdict(list)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed"):
        for start in range(0, len(features), 64):
            rows = [{k: encoded[k][w] for k in model_keys} for w in range(start, min(start + 64, len(features)))]
            batch = tokenizer.pad(rows, return_tensors="pt")
            output = model(**batch)
            for j, row in enumerate(rows):
                feature, length = features[start + j], len(row["input_ids"])
                per_question[feature["question"]].append(Window(
                    output.start_logits[j, :length].float().numpy(), output.end_logits[j, :length].float().numpy(),
                    feature["context_start"], feature["offsets"],
                ))
    predictions = [
        {"id": q["id"], "prediction_text": best_answers(q["context"], per_question.get(i, []), n_best=N_BEST,
                                                        max_answer_length=MAX_ANSWER_LENGTH)["answer"]}
        for i, q in enumerate(questions)
    ]
    scores = SquadV1().compute(predictions=predictions,
                               references=[{"id": q["id"], "answers": q["answers"]} for q in questions])
    return len(train) * args.epochs / epoch.seconds, float(scores["exact_match"]), float(scores["f1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1500, help="training questions")
    parser.add_argument("--eval-limit", type=int, default=None, help="evaluation questions (default: all 1,988)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of both")
    parser.add_argument("--precision", default="auto", choices=["auto", "32", "bf16-mixed"],
                        help="auto: what nlpkit picks on this hardware (bf16 where it has bf16 units)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--trainer-setup", default="example", choices=["example", "grouped"],
                        help="example: the official run_qa.py defaults (every window padded to 384 tokens, random batches); "
                             "grouped: the Trainer also gets length-grouped batches with dynamic padding, as nlpkit has")
    args = parser.parse_args()
    from nlpkit.precision import resolve_precision

    args.precision = resolve_precision(args.precision)
    results: dict[str, list[tuple[float, float, float]]] = {"nlpkit": [], "trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, fn in (("nlpkit", run_nlpkit), ("trainer", run_trainer)):
                started = time.time()
                speed, exact, f1 = fn(args, Path(tmp) / f"{name}-{round_}")
                results[name].append((speed, exact, f1))
                print(f"round {round_ + 1} {name:8s} {speed:7.1f} train windows/s  EM {exact:5.1f}  F1 {f1:5.1f}"
                      f"  ({time.time() - started:.0f} s)", flush=True)
    ours, theirs = (statistics.median(r[0] for r in results[n]) for n in ("nlpkit", "trainer"))
    em_ours, em_theirs = (statistics.median(r[1] for r in results[n]) for n in ("nlpkit", "trainer"))
    f1_ours, f1_theirs = (statistics.median(r[2] for r in results[n]) for n in ("nlpkit", "trainer"))
    evaluated = f"{args.eval_limit} evaluation questions" if args.eval_limit else "all evaluation questions"
    print(f"\nSQuAD v1.1, {args.limit} training questions, {args.epochs} epochs, {evaluated}, "
          f"precision {args.precision}, seed {args.seed}, Trainer setup {args.trainer_setup}")
    print(f"nlpkit   {ours:7.1f} windows/s   EM {em_ours:5.1f}  F1 {f1_ours:5.1f}")
    print(f"Trainer  {theirs:7.1f} windows/s   EM {em_theirs:5.1f}  F1 {f1_theirs:5.1f}")
    print(f"throughput ratio nlpkit / Trainer: {ours / theirs:.2f}x; F1 difference {f1_ours - f1_theirs:+.1f} points")


if __name__ == "__main__":
    main()
