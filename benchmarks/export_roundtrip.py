"""A finished run against its own exports, on the run's own evaluation split.

    python benchmarks/export_roundtrip.py RUN [--split test] [--work DIR]

The run is exported to ``--format hf``, ``--format onnx`` and ``--format onnx --quantize
int8`` under ``--work`` (made once, then reused). Each export is loaded with
``nlpkit.load`` and scores the split the run scored, read as the run read it (its saved
recipe: the same files, limits and held-out parts); its predictions are compared, row by
row, with the ones the run wrote to ``predictions/<split>.jsonl``:

- classification, sentiment, pairs: the label;
- NER: the tag of every word;
- QA: the answer text.

Printed per engine: the metrics, and how many rows (words, for NER) differ from the run.
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

FORMATS = (("hf", "hf", None), ("onnx fp32", "onnx", None), ("onnx int8", "onnx", "int8"))


def split_examples(run: Path, split: str) -> list[Any]:
    """The examples of ``split`` as the run read them, from its saved recipe."""
    from nlpkit.data import read_splits
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.rundir import RunDir
    from nlpkit.task import TaskSettings

    recipe = load_recipe(RunDir(run).recipe)
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    return read_splits(task, recipe)[split].examples


def compared(row: dict[str, Any]) -> list[Any]:
    """What must agree: one item per word for NER, else one per row."""
    if "tags" in row:
        return list(row["tags"])
    for key in ("label", "labels", "answer", "score"):
        if key in row:
            return [row[key]]
    raise KeyError(f"no label, tags or answer in {sorted(row)}")


def differences(reference: list[dict[str, Any]], got: list[dict[str, Any]]) -> tuple[int, int]:
    """(items that differ, items compared)."""
    differ = total = 0
    for want, have in zip(reference, got, strict=True):
        a, b = compared(want), compared(have)
        total += len(a)
        differ += sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
    return differ, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", default=None, help="test if the run has one, else validation")
    parser.add_argument("--work", type=Path, default=Path("/tmp/nlpkit-export-roundtrip"))
    args = parser.parse_args()

    import nlpkit
    from nlpkit.export import export
    from nlpkit.rundir import ExportDir, RunDir

    run = RunDir(args.run)
    split = args.split or ("test" if run.predictions("test").exists() else "validation")
    reference = [json.loads(line) for line in run.predictions(split).read_text(encoding="utf-8").splitlines()]
    examples = split_examples(args.run, split)
    print(f"{args.run}: {split}, {len(examples):,} examples")
    metrics = json.loads(run.metrics.read_text(encoding="utf-8")).get(split, {})
    print(f"run (its predictions/{split}.jsonl): " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                                  if isinstance(v, float)))
    for name, fmt, quantize in FORMATS:
        out = args.work / f"{args.run.name}-{name.replace(' ', '-')}"
        if not ExportDir(out).is_export:
            export(args.run, out, format=fmt, quantize=quantize)
        started = time.perf_counter()
        predictions, scores = nlpkit.load(out).evaluate(examples)
        seconds = time.perf_counter() - started
        differ, total = differences(reference, predictions)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float))
        print(f"{name}: {shown}; {differ:,} of {total:,} differ from the run ({differ / total:.2%}); {seconds:.0f} s")


if __name__ == "__main__":
    main()
