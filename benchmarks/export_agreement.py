"""Plain transformers against the run: an ``hf`` export's predictions on a split, next to
the predictions the run directory wrote for that split.

    python benchmarks/export_agreement.py runs/quickstart exports/quickstart --split validation
    python benchmarks/export_agreement.py runs/conll2003 exports/conll2003 --split test

Only transformers reads the export, as its users would:

- classification, sentiment (classes): the ``text`` of each row of
  ``predictions/<split>.jsonl`` through ``AutoTokenizer`` and
  ``AutoModelForSequenceClassification`` (cut to the recipe's ``encoder.max_length``
  tokens, as nlpkit cuts), softmax, the most probable label;
- ner: each row's ``tokens`` through ``AutoModelForTokenClassification``
  (``is_split_into_words``), the arg-max tag of each word's first piece (a CRF model is
  decoded without its CRF: expect differences). nlpkit splits a sentence longer than
  ``encoder.max_length`` into overlapping windows; here it goes in whole, and such
  sentences are counted apart.

Prints the number of rows whose labels or tags agree and the largest difference of a
probability.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def read_rows(run: Path, split: str) -> list[dict[str, Any]]:
    from nlpkit.rundir import RunDir

    path = RunDir(run).predictions(split)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load(export: Path, auto_class: str) -> tuple[Any, Any]:
    import transformers

    meta = json.loads(Path(export, "nlpkit-export.json").read_text(encoding="utf-8"))["hf"]
    trust = meta["trust_remote_code"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(export, trust_remote_code=trust)
    model = getattr(transformers, auto_class).from_pretrained(export, trust_remote_code=trust).eval()
    return tokenizer, model


def classification(rows: list[dict[str, Any]], export: Path, max_length: int, batch_size: int) -> dict[str, Any]:
    import torch

    tokenizer, model = load(export, "AutoModelForSequenceClassification")
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    agree, worst = 0, 0.0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        encoded = tokenizer([r["text"] for r in chunk], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt")
        with torch.inference_mode():
            probabilities = torch.softmax(model(**encoded).logits.double(), dim=-1)
        for row, p in zip(chunk, probabilities):
            agree += labels[int(p.argmax())] == row["label"]
            worst = max(worst, max(abs(float(p[i]) - row["probabilities"][label]) for i, label in enumerate(labels)))
    return {"rows": len(rows), "same label": agree, "max |probability difference|": worst}


def ner(rows: list[dict[str, Any]], export: Path, max_length: int) -> dict[str, Any]:
    import torch

    tokenizer, model = load(export, "AutoModelForTokenClassification")
    agree = agree_long = long = 0
    for row in rows:
        encoded = tokenizer(row["tokens"], is_split_into_words=True, return_tensors="pt")
        with torch.inference_mode():
            logits = model(**encoded).logits[0]
        words = encoded.word_ids()
        firsts = [i for i, w in enumerate(words) if w is not None and (i == 0 or words[i - 1] != w)]
        tags = [model.config.id2label[int(i)] for i in logits[firsts].argmax(-1)]
        same = tags == row["tags"]
        if len(words) > max_length:
            long += 1
            agree_long += same
        else:
            agree += same
    return {"sentences": len(rows), f"within {max_length} tokens": len(rows) - long, "same tags": agree,
            "longer (windows in nlpkit)": long, "same tags (longer)": agree_long}


def main() -> None:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("export", type=Path)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    recipe = yaml.safe_load((args.run / "recipe.yaml").read_text(encoding="utf-8"))
    rows = read_rows(args.run, args.split)
    started = time.perf_counter()
    max_length = recipe["encoder"]["max_length"]
    if recipe["task"] == "ner":
        result = ner(rows, args.export, max_length)
    else:
        result = classification(rows, args.export, max_length, args.batch_size)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({"run": str(args.run), "export": str(args.export), "split": args.split, **result}, indent=2))


if __name__ == "__main__":
    main()
