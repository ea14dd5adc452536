"""Inference speed of one model through every engine, on the same sentences.

    python benchmarks/inference.py [--sst2-run RUN] [--conll-run RUN] [--work DIR] [--rounds 3]

SST-2 (a classification run, e.g. ``nlpkit run recipes/quickstart.yaml``): the 872 dev
sentences and the 3,128 training sentences after the quickstart's first 2,000 (4,000 in
all) through ``transformers.pipeline`` on the run's ``--format hf`` export (at its default
batch size, and at the best of a few), ``nlpkit.load(run).predict`` (PyTorch),
``nlpkit.load(export).predict`` on the ``--format onnx`` export in fp32 and int8, and
optimum's ``ORTModelForSequenceClassification`` where optimum is installed. CoNLL-2003
(an NER run): the first 1,000+ sentences of eng.testb through nlpkit's PyTorch and
onnxruntime paths and the token-classification pipeline (batch size 1, its default, and
32; speed only: its output is entity pieces, not word tags).

The engines take turns, round after round in one process (the order rotating), so that a
change in the machine's load falls on all of them alike; each engine is loaded and run
once on a few rows before the rounds. Printed: rows/s per round and the median, the
ratios of the medians, the share of nlpkit's time spent inside the model, labels that
differ from nlpkit's PyTorch path, and accuracy (SST-2) or entity F1 (CoNLL).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

Engine = Callable[[list[Any]], list[Any]]
DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
PIPELINE_BATCHES = (8, 32, 64, 128)


def sst2_rows() -> tuple[list[str], list[str]]:
    """(texts, gold labels): dev, then train rows 2,000 to 5,127 (the quickstart trains on the first 2,000)."""
    def read(path: Path) -> list[tuple[str, str]]:
        with path.open(encoding="utf-8") as handle:
            return [(row["sentence"].strip(), row["label"]) for row in csv.DictReader(handle, delimiter="\t")]

    rows = read(DATA / "sst2" / "dev.tsv") + read(DATA / "sst2" / "train.tsv")[2000:5128]
    return [r[0] for r in rows], [r[1] for r in rows]


class Timed:
    """Wraps a predictor's model to add up the seconds spent inside it."""

    def __init__(self, model: Any) -> None:
        self.model, self.seconds = model, 0.0

    def __call__(self, batch: Any) -> Any:
        started = time.perf_counter()
        output = self.model(batch)
        self.seconds += time.perf_counter() - started
        return output

    def eval(self) -> "Timed":
        return self

    def to(self, device: Any) -> "Timed":
        return self


def nlpkit_engine(path: Path, key: Callable[[dict[str, Any]], Any]) -> tuple[Engine, Timed]:
    import nlpkit

    predictor = nlpkit.load(path)
    timed = Timed(predictor.model)
    predictor.model = timed
    return (lambda inputs: [key(p) for p in predictor.predict(inputs)]), timed


def pipeline_engine(hf_dir: Path, task: str, batch_size: int | None, max_length: int) -> Engine:
    from transformers import pipeline

    pipe = pipeline(task, model=str(hf_dir), device=-1, trust_remote_code=True)
    options: dict[str, Any] = {"truncation": True, "max_length": max_length}
    if batch_size is not None:
        options["batch_size"] = batch_size
    if task == "text-classification":
        return lambda texts: [out["label"] for out in pipe(texts, **options)]
    return lambda texts: pipe(texts, batch_size=batch_size or 1)


def optimum_engine(onnx_dir: Path, hf_dir: Path, batch_size: int) -> Engine | str:
    """optimum's ORTModelForSequenceClassification on nlpkit's graph, or why not."""
    try:
        from optimum.onnxruntime import ORTModelForSequenceClassification
    except ImportError as exc:
        return f"optimum is not installed ({exc})"
    model = ORTModelForSequenceClassification.from_pretrained(onnx_dir, config=hf_dir)
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model, tokenizer=str(onnx_dir), device=-1)
    return lambda texts: [out["label"] for out in pipe(texts, batch_size=batch_size, truncation=True)]


def exports(run: Path, work: Path, name: str) -> dict[str, Path | str]:
    """The run's hf, onnx and onnx-int8 exports under ``work`` (made once, then reused);
    a format that fails gives its error message instead."""
    from nlpkit.errors import NlpkitError
    from nlpkit.export import export
    from nlpkit.rundir import ExportDir

    made: dict[str, Path | str] = {}
    for label, fmt, quantize in (("hf", "hf", None), ("onnx", "onnx", None), ("int8", "onnx", "int8")):
        out = work / f"{name}-{label}"
        try:
            made[label] = out if ExportDir(out).is_export else export(run, out, format=fmt, quantize=quantize)
        except NlpkitError as exc:
            made[label] = str(exc)
    return made


def best_batch(make: Callable[[int], Engine], texts: list[Any]) -> tuple[int, dict[int, float]]:
    speeds = {}
    for size in PIPELINE_BATCHES:
        engine = make(size)
        engine(texts[:16])
        started = time.perf_counter()
        engine(texts)
        speeds[size] = len(texts) / (time.perf_counter() - started)
    return max(speeds, key=speeds.__getitem__), speeds


def race(engines: dict[str, Engine], inputs: list[Any], rounds: int,
         timers: dict[str, Timed]) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """rows/s of each engine per round (the order rotates each round), and its outputs."""
    for engine in engines.values():
        engine(inputs[:32])  # loaded, warmed
    for timer in timers.values():
        timer.seconds = 0.0
    speeds: dict[str, list[float]] = {name: [] for name in engines}
    outputs: dict[str, list[Any]] = {}
    names = list(engines)
    for number in range(rounds):
        order = names[number % len(names):] + names[:number % len(names)]
        for name in order:
            started = time.perf_counter()
            outputs[name] = engines[name](inputs)
            speeds[name].append(len(inputs) / (time.perf_counter() - started))
        print(f"round {number + 1}: " + ", ".join(f"{n} {speeds[n][-1]:,.0f}" for n in names), flush=True)
    return speeds, outputs


def report(speeds: dict[str, list[float]], reference: str, timers: dict[str, Timed], rows: int) -> None:
    """Medians, their ratio to ``reference``, and the share of each nlpkit engine's time
    spent inside its model (the rest: tokenizing, batching, decoding)."""
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    print(f"\n{'engine':<28}{'rows/s (median)':>16}{'min':>8}{'max':>8}{'x ' + reference:>16}{'in model':>10}")
    for name, median in medians.items():
        share = timers[name].seconds / sum(rows / speed for speed in speeds[name]) if name in timers else None
        print(f"{name:<28}{median:>16,.0f}{min(speeds[name]):>8,.0f}{max(speeds[name]):>8,.0f}"
              f"{median / medians[reference]:>15.2f}x{'' if share is None else f'{share:>9.0%}'}")


def disagreement(outputs: dict[str, list[Any]], reference: str) -> None:
    base = outputs[reference]
    for name, got in outputs.items():
        if name != reference:
            differ = sum(a != b for a, b in zip(got, base))
            print(f"{name}: {differ} of {len(base)} labels differ from {reference} ({differ / len(base):.2%})")


def sst2(run: Path, work: Path, rounds: int, with_pipeline: bool) -> None:
    texts, gold = sst2_rows()
    print(f"SST-2: {len(texts):,} sentences, {run}")
    made = exports(run, work, "sst2")
    engines: dict[str, Engine] = {}
    timers: dict[str, Timed] = {}
    if not with_pipeline:
        print("pipeline: skipped (--no-pipeline)")
    elif isinstance(made["hf"], Path):
        engines["pipeline batch 1 (default)"] = pipeline_engine(made["hf"], "text-classification", None, 64)
        size, tried = best_batch(lambda b: pipeline_engine(made["hf"], "text-classification", b, 64), texts[:512])
        print("pipeline batch sizes (rows/s on 512 sentences): " + ", ".join(f"{b}: {s:,.0f}" for b, s in tried.items()))
        engines[f"pipeline batch {size} (best)"] = pipeline_engine(made["hf"], "text-classification", size, 64)
    else:
        print(f"pipeline: skipped ({made['hf']})")
    for name, path in (("nlpkit torch", run), ("nlpkit onnx fp32", made["onnx"]), ("nlpkit onnx int8", made["int8"])):
        if isinstance(path, Path):
            engines[name], timers[name] = nlpkit_engine(path, lambda p: p["label"])
        else:
            print(f"{name}: skipped ({path})")
    optimum = optimum_engine(made["onnx"], made["hf"], 64) if isinstance(made["onnx"], Path) and isinstance(made["hf"], Path) else "no export"
    if isinstance(optimum, str):
        print(f"optimum ORTModelForSequenceClassification: skipped ({optimum})")
    else:
        engines["optimum ORTModel batch 64"] = optimum
    speeds, outputs = race(engines, texts, rounds, timers)
    report(speeds, "nlpkit torch", timers, len(texts))
    best_pipeline = max((n for n in speeds if n.startswith("pipeline")), key=lambda n: statistics.median(speeds[n]), default=None)
    if best_pipeline:
        ratio = statistics.median(speeds["nlpkit torch"]) / statistics.median(speeds[best_pipeline])
        print(f"nlpkit torch / {best_pipeline}: {ratio:.2f}x")
    disagreement(outputs, "nlpkit torch")
    for name, labels in outputs.items():
        accuracy = sum(a == b for a, b in zip(labels, gold)) / len(gold)
        dev = sum(a == b for a, b in zip(labels[:872], gold[:872])) / 872
        print(f"{name}: accuracy {accuracy:.4f} on all {len(gold):,}, {dev:.4f} on the 872 dev sentences")


def conll(run: Path, work: Path, rounds: int, limit: int, with_pipeline: bool) -> None:
    import nlpkit
    from nlpkit_ner.scoring import score

    task = nlpkit.load(run).task
    examples = task.read(DATA / "conll2003" / "eng.testb", "test")[:limit]
    sentences = [tuple(e.words) for e in examples]
    print(f"\nCoNLL-2003: {len(sentences):,} sentences of eng.testb, {sum(map(len, sentences)):,} words, {run}")
    made = exports(run, work, "conll")
    engines: dict[str, Engine] = {}
    timers: dict[str, Timed] = {}
    if with_pipeline and isinstance(made["hf"], Path):
        # The pipeline takes text: the words joined by spaces. Its output is entity pieces
        # over characters, not word tags, so only its speed is compared here (its entities
        # are checked against nlpkit's in tests/ner/test_export_hf_ner.py).
        joined = {tuple(s): " ".join(s) for s in sentences}
        for size in (None, 32):
            pipe = pipeline_engine(made["hf"], "token-classification", size, 128)
            engines[f"pipeline batch {size or 1}"] = (lambda p: lambda rows: p([joined[r] for r in rows]))(pipe)
    for name, path in (("nlpkit torch", run), ("nlpkit onnx fp32", made["onnx"]), ("nlpkit onnx int8", made["int8"])):
        if isinstance(path, Path):
            engines[name], timers[name] = nlpkit_engine(path, lambda p: p["tags"])
        else:
            print(f"{name}: skipped ({path})")
    speeds, outputs = race(engines, list(sentences), rounds, timers)
    report(speeds, "nlpkit torch", timers, len(sentences))
    base = [t for tags in outputs["nlpkit torch"] for t in tags]
    for name, tagged in outputs.items():
        if name.startswith("pipeline"):
            continue
        flat = [t for tags in tagged for t in tags]
        differ = sum(a != b for a, b in zip(flat, base))
        f1 = score([e.tags for e in examples], tagged)["f1"]
        print(f"{name}: entity F1 {f1:.4f}; {differ} of {len(base):,} word tags differ from nlpkit torch")
    if isinstance(made["hf"], str) and with_pipeline:
        print(f"token-classification pipeline: skipped ({made['hf']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sst2-run", type=Path)
    parser.add_argument("--conll-run", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/nlpkit-inference-bench"), help="where the exports go")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conll-rows", type=int, default=1000)
    parser.add_argument("--no-pipeline", action="store_true", help="leave transformers.pipeline out (it is the slowest)")
    args = parser.parse_args()
    import onnxruntime
    import torch

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, "
          f"{os.cpu_count()} CPUs, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.sst2_run is not None:
        sst2(args.sst2_run, args.work, args.rounds, not args.no_pipeline)
    if args.conll_run is not None:
        conll(args.conll_run, args.work, args.rounds, args.conll_rows, not args.no_pipeline)


if __name__ == "__main__":
    main()
