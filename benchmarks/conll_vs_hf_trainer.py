"""CoNLL-2003 NER: nlpkit against the Hugging Face Trainer, same encoder and settings.

Both train the default MiniLM encoder on the first N sentences of eng.train (batch 32,
lr 5e-5 for encoder and head alike, 10% warm-up, weight decay 0.01, clip 1.0, max
length 128, dynamic padding, the same precision) and are scored
on eng.testa (dev) with nlpkit_ner's entity-level F1 (conlleval rules). The files are
IOB1; both sides train on IOB2, converted by nlpkit_ner.schemes. The Trainer side is
the token-classification recipe of the Hugging Face examples: AutoModelForTokenClassification,
each word's first sub-word piece labelled, the other pieces -100,
DataCollatorForTokenClassification, and by default (`--trainer-setup example`) that
recipe's random batches; `--trainer-setup grouped` gives it length-grouped batches as
nlpkit uses by default. The two alternate in one process so machine noise
hits both alike; the script prints each round, then the median throughputs (training
examples per second, validation excluded), the dev F1s and the ratio.

    python benchmarks/conll_vs_hf_trainer.py --limit 2000 --epochs 3 --rounds 1

Needs `pip install -e '.[compare]'` (the Trainer needs accelerate).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "conll2003"
MAX_LENGTH = 128


def read_conll(path: Path, limit: int | None = None) -> tuple[list[list[str]], list[list[str]]]:
    """Words and IOB2 tags per sentence (the file's IOB1 tags converted, as nlpkit trains);
    `-DOCSTART-` lines and blank lines end a sentence, as in nlpkit_ner's reader."""
    from nlpkit_ner import schemes

    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    iob1: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in [*handle, ""]:
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                if words:
                    sentences.append(words)
                    tags.append(schemes.convert(iob1, "iob2"))
                words, iob1 = [], []
                continue
            words.append(parts[0])
            iob1.append(parts[3])
    return (sentences[:limit], tags[:limit]) if limit else (sentences, tags)


def run_nlpkit(args: argparse.Namespace, out: Path) -> tuple[float, float]:
    import nlpkit

    recipe = {
        "task": "ner",
        "encoder": {"name": "minilm", "max_length": MAX_LENGTH},
        "data": {"train": str(DATA / "eng.train"), "validation": str(DATA / "eng.testa"),
                 "format": "conll", "token_column": 0, "tag_column": 3,
                 "limit_train": args.limit, "limit_validation": args.eval_limit, "cache": False},
        # recipes/conll2003.yaml sets head_lr 1e-3; here the head learns at lr, as in the Trainer.
        "train": {"epochs": args.epochs, "batch_size": 32, "lr": 5e-5, "head_lr": 5e-5, "seed": args.seed,
                  "precision": args.precision, "warmup_ratio": 0.1, "weight_decay": 0.01, "max_grad_norm": 1.0},
        # Validate after the last epoch only: nlpkit keeps the best validated epoch, and the
        # Trainer is scored after its last, so both are scored on the last epoch's model.
        "trainer": {"enable_progress_bar": False, "check_val_every_n_epoch": args.epochs},
        "output": {"dir": str(out)},
    }
    result = nlpkit.run(recipe, overwrite=True)
    return result.metrics["training"]["train_examples_per_second"], result.metrics["validation"]["f1"]


def run_trainer(args: argparse.Namespace, out: Path) -> tuple[float, float]:
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments)

    from nlpkit.encoders import minilm_path
    from trainer_clock import EpochClock
    from nlpkit_ner import schemes
    from nlpkit_ner.scoring import score

    path = minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    words, tags = read_conll(DATA / "eng.train", args.limit)
    types = sorted({span.label for sentence in tags for span in schemes.spans(sentence)})
    label_list = schemes.tag_set(types, "iob2")
    label_to_id = {t: i for i, t in enumerate(label_list)}

    def tokenize_and_align(batch: dict[str, list]) -> dict[str, list]:
        # As run_ner.py with label_all_tokens=False: the first piece of each word carries
        # its label, other pieces and special tokens get -100 (ignored by the loss).
        encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=MAX_LENGTH)
        labels = []
        for i, sentence_tags in enumerate(batch["tags"]):
            previous = None
            row = []
            for word in encoded.word_ids(i):
                row.append(-100 if word is None or word == previous else label_to_id[sentence_tags[word]])
                previous = word
            labels.append(row)
        encoded["labels"] = labels
        return encoded

    train = Dataset.from_dict({"tokens": words, "tags": tags}).map(
        tokenize_and_align, batched=True, remove_columns=["tokens", "tags"]
    )
    torch.manual_seed(args.seed)
    model = AutoModelForTokenClassification.from_pretrained(
        path, num_labels=len(label_list), id2label=dict(enumerate(label_list)), label2id=label_to_id
    )
    training = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=32, learning_rate=5e-5, num_train_epochs=args.epochs,
        warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0, seed=args.seed,
        # run_ner leaves the sampler at its default (random); "grouped" gives it ours.
        train_sampling_strategy="group_by_length" if args.trainer_setup == "grouped" else "random",
        bf16=args.precision == "bf16-mixed", use_cpu=True,
        report_to=[], save_strategy="no", eval_strategy="no", logging_strategy="no", disable_tqdm=True,
    )
    epoch = EpochClock()  # the same span as nlpkit's figure; the Trainer's own one to stderr
    trainer = Trainer(model=model, args=training, train_dataset=train,
                      data_collator=DataCollatorForTokenClassification(tokenizer), callbacks=[epoch])
    stats = trainer.train().metrics
    print(f"Trainer's own train_samples_per_second: {stats['train_samples_per_second']}", file=sys.stderr)
    # Predict with a plain sequential loop: the Trainer's predict() reorders rows when the
    # length-grouped sampler is on. Each word takes the tag of its first piece; words cut
    # off by truncation at MAX_LENGTH are predicted O (and still scored).
    dev_words, dev_tags = read_conll(DATA / "eng.testa", args.eval_limit)
    model.eval()
    predictions: list[list[str]] = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16-mixed"):
        for start in range(0, len(dev_words), 64):
            chunk = dev_words[start:start + 64]
            batch = tokenizer(chunk, is_split_into_words=True, truncation=True, max_length=MAX_LENGTH,
                              padding=True, return_tensors="pt")
            best = model(**batch).logits.argmax(-1).tolist()
            for i, sentence in enumerate(chunk):
                tags_out = ["O"] * len(sentence)
                previous = None
                for position, word in enumerate(batch.word_ids(i)):
                    if word is not None and word != previous:
                        tags_out[word] = label_list[best[i][position]]
                    previous = word
                predictions.append(tags_out)
    f1 = score(dev_tags, predictions, "conlleval", "iob2")["f1"]
    return len(train) * args.epochs / epoch.seconds, f1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=2000, help="training sentences")
    parser.add_argument("--eval-limit", type=int, default=None, help="dev sentences (default: all 3,250)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds of both")
    parser.add_argument("--precision", default="auto", choices=["auto", "32", "bf16-mixed"],
                        help="auto: what nlpkit picks on this hardware (bf16 where it has bf16 units)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--trainer-setup", default="example", choices=["example", "grouped"],
                        help="example: the official run_ner.py defaults (random batches, dynamic padding); "
                             "grouped: the Trainer also gets length-grouped batches with dynamic padding, as nlpkit has")
    args = parser.parse_args()
    from nlpkit.precision import resolve_precision

    args.precision = resolve_precision(args.precision)
    results: dict[str, list[tuple[float, float]]] = {"nlpkit": [], "trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name, fn in (("nlpkit", run_nlpkit), ("trainer", run_trainer)):
                started = time.time()
                speed, f1 = fn(args, Path(tmp) / f"{name}-{round_}")
                results[name].append((speed, f1))
                print(f"round {round_ + 1} {name:8s} {speed:7.1f} train examples/s  dev F1 {f1:.4f}"
                      f"  ({time.time() - started:.0f} s)", flush=True)
    ours = statistics.median(s for s, _ in results["nlpkit"])
    theirs = statistics.median(s for s, _ in results["trainer"])
    f1_ours = statistics.median(f for _, f in results["nlpkit"])
    f1_theirs = statistics.median(f for _, f in results["trainer"])
    dev = f"{args.eval_limit} dev sentences" if args.eval_limit else "all dev sentences"
    print(f"\nCoNLL-2003, {args.limit} training sentences, {args.epochs} epochs, {dev}, precision {args.precision}, "
          f"seed {args.seed}, Trainer setup {args.trainer_setup}")
    print(f"nlpkit   {ours:7.1f} examples/s   dev F1 {f1_ours:.4f}")
    print(f"Trainer  {theirs:7.1f} examples/s   dev F1 {f1_theirs:.4f}")
    print(f"throughput ratio nlpkit / Trainer: {ours / theirs:.2f}x; F1 difference {100 * (f1_ours - f1_theirs):+.1f} points")


if __name__ == "__main__":
    main()
