"""Smaller and faster models side by side: a teacher, 3-layer students, int8.

    python benchmarks/compression.py --teacher RUN --direct RUN --distilled RUN [--task sst2|conll|squad]
                                     [--rows N] [--rounds 3]

RUN: the task's teacher (6 layers: recipes/quickstart.yaml, conll2003.yaml, squad.yaml),
the 3-layer student trained on the labels alone (``nlpkit run recipes/distill-*.yaml
distill=null``) and the one distilled from the teacher (``nlpkit run recipes/distill-*.yaml``).
Each model is predicted in fp32, and the teacher and the distilled student also in int8:
onnxruntime's int8 graph (``nlpkit.load(run, quantize="int8")``, made once and cached) and,
for SST-2, PyTorch's dynamic quantization of the encoder's linear layers
(``torch.ao.quantization.quantize_dynamic``), the alternative that nlpkit measured and did
not take.

The rows: for SST-2 those of ``benchmarks/inference.py`` (the 872 dev sentences, then the
training sentences after the quickstart's first 2,000; accuracy on the dev sentences and on
all), for CoNLL the sentences of eng.testb (entity F1; differences count word tags), for
SQuAD the questions of eval-from-dev.json (differences count answers), through ``predict``
at the run's batch size. The engines take turns, round after round in one process (the
order rotating), each warmed on a few rows first. Printed per engine: layers, parameters,
size on disk, rows/s per round and the median, the ratio to the teacher in fp32, and the
outputs that differ from the same model in fp32.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
from pathlib import Path
from typing import Any

from inference import DATA, Engine, race, sst2_rows

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
DEV_ROWS = 872
UNITS = {"label": "labels", "tags": "word tags", "answer": "answers"}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def model_bytes(predictor: Any) -> int:
    """The model's weights as torch saves them (for a model quantized at load time,
    which has no file of its own)."""
    import torch

    buffer = io.BytesIO()
    torch.save(predictor.model.state_dict(), buffer)
    return buffer.tell()


def task_rows(task: str, teacher: Path) -> tuple[list[Any], list[Any], str]:
    """(inputs, gold outputs, the predict key that is compared) of a task's benchmark rows."""
    if task == "sst2":
        texts, gold = sst2_rows()
        return texts, gold, "label"
    import nlpkit

    reader = nlpkit.load(teacher).task
    if task == "conll":
        examples = reader.read(DATA / "conll2003" / "eng.testb", "test")
        return [tuple(e.words) for e in examples], [e.tags for e in examples], "tags"
    examples = reader.read(DATA / "squad" / "eval-from-dev.json", "validation")
    return [{"question": e.question, "context": e.context} for e in examples], [None] * len(examples), "answer"


def quality(task: str, outputs: list[Any], gold: list[Any]) -> str:
    """The score that can be computed from the outputs alone."""
    if task == "sst2":
        dev = sum(a == b for a, b in zip(outputs[:DEV_ROWS], gold[:DEV_ROWS])) / min(len(gold), DEV_ROWS)
        every = sum(a == b for a, b in zip(outputs, gold)) / len(gold)
        return f"accuracy dev {dev:.4f}, all {every:.4f}"
    if task == "conll":
        from nlpkit_ner.scoring import score

        return f"entity F1 {score(gold, outputs)['f1']:.4f}"
    return "(scored by the run: nlpkit evaluate)"


def describe(path: Path, quantize: str | None, key: str) -> tuple[Engine, dict[str, Any]]:
    """An engine predicting the compared output, and its model's layers, parameters and size."""
    import nlpkit
    from nlpkit.quantize import int8_graph
    from nlpkit.rundir import ExportDir, RunDir

    fp32 = nlpkit.load(path)
    facts = {
        "layers": fp32.model.encoder.config.num_hidden_layers,
        "parameters": sum(p.numel() for p in fp32.model.parameters()),
    }
    if quantize == "onnxruntime":  # what nlpkit.load(run, quantize="int8") loads
        predictor = nlpkit.load(path, quantize="int8")
        facts["size"] = f"{os.path.getsize(ExportDir(int8_graph(path)).onnx_model) / 1e6:.1f} MB (model.onnx)"
    elif quantize == "torch":
        import torch
        from torch.ao.quantization import quantize_dynamic

        predictor = nlpkit.load(path)
        quantize_dynamic(predictor.model.encoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
        facts["size"] = f"{model_bytes(predictor) / 1e6:.1f} MB (torch.save of the quantized weights)"
    else:
        predictor = fp32
        facts["size"] = f"{folder_bytes(RunDir(path).model_dir.path) / 1e6:.1f} MB (model/)"
    return (lambda rows: [p[key] for p in predictor.predict(rows)]), facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for role in ("teacher", "direct", "distilled"):
        parser.add_argument(f"--{role}", type=Path, required=True)
    parser.add_argument("--task", choices=["sst2", "conll", "squad"], default="sst2")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import onnxruntime
    import torch

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    teacher, direct, distilled = args.teacher, args.direct, args.distilled
    rows, gold, key = task_rows(args.task, teacher)
    rows, gold = rows[: args.rows], gold[: args.rows]
    # name: (run, quantize, the same model's fp32 engine)
    models = {
        "teacher fp32": (teacher, None, "teacher fp32"),
        "teacher int8 torch": (teacher, "torch", "teacher fp32"),
        "teacher int8 onnxruntime": (teacher, "onnxruntime", "teacher fp32"),
        "direct student fp32": (direct, None, "direct student fp32"),
        "distilled student fp32": (distilled, None, "distilled student fp32"),
        "distilled int8 torch": (distilled, "torch", "distilled student fp32"),
        "distilled int8 onnxruntime": (distilled, "onnxruntime", "distilled student fp32"),
    }
    if args.task != "sst2":  # PyTorch's int8 lost on SST-2 (docs/benchmarks.md): not timed again
        models = {name: model for name, model in models.items() if "torch" not in name}
    engines, facts = {}, {}
    for name, (path, quantize, _) in models.items():
        engines[name], facts[name] = describe(path, quantize, key)
    print(f"{args.task}: {len(rows):,} rows")
    speeds, outputs = race(engines, rows, args.rounds, {})
    reference = statistics.median(speeds["teacher fp32"])
    for name, predicted in outputs.items():
        median = statistics.median(speeds[name])
        flat, fp32 = flatten(predicted), flatten(outputs[models[name][2]])
        differ = sum(a != b for a, b in zip(flat, fp32))
        f = facts[name]
        print(f"{name}: {f['layers']} layers, {f['parameters']:,} parameters, {f['size']}; rows/s "
              f"{', '.join(f'{s:,.0f}' for s in speeds[name])} (median {median:,.0f}, {median / reference:.2f}x the teacher); "
              f"{differ} of {len(flat):,} {UNITS[key]} differ from fp32; {quality(args.task, predicted, gold)}")


def flatten(outputs: list[Any]) -> list[Any]:
    """Word tags one by one (NER), else the outputs as they are."""
    return [t for tags in outputs for t in tags] if outputs and isinstance(outputs[0], list) else outputs


if __name__ == "__main__":
    main()
