"""Smaller and faster SST-2 models side by side: a teacher, 3-layer students, int8.

    python benchmarks/compression.py --teacher RUN --direct RUN --distilled RUN [--rows 4000] [--rounds 3]

RUN: the quickstart run (the teacher, 6 layers), the 3-layer student trained on the
labels alone (``nlpkit run recipes/distill-sst2.yaml distill=null``) and the one distilled
from the teacher (``nlpkit run recipes/distill-sst2.yaml``). Each model is predicted in
fp32, and the teacher and the distilled student also in int8 two ways: onnxruntime's int8
graph (``nlpkit.load(run, quantize="int8")``, made once and cached) and PyTorch's dynamic
quantization of the encoder's linear layers (``torch.ao.quantization.quantize_dynamic``),
the alternative that nlpkit measured and did not take.

The sentences are those of ``benchmarks/inference.py`` (the 872 dev sentences, then the
training sentences after the quickstart's first 2,000), through ``predict`` at the run's
batch size. The engines take turns, round after round in one process (the order
rotating), each warmed on a few rows first. Printed per engine: layers, parameters, size
on disk, rows/s per round and the median, the ratio to the teacher in fp32, the labels
that differ from the same model in fp32, and the accuracy on the dev sentences and on all.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
from pathlib import Path
from typing import Any

from inference import Engine, race, sst2_rows

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
DEV_ROWS = 872


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def model_bytes(predictor: Any) -> int:
    """The model's weights as torch saves them (for a model quantized at load time,
    which has no file of its own)."""
    import torch

    buffer = io.BytesIO()
    torch.save(predictor.model.state_dict(), buffer)
    return buffer.tell()


def describe(path: Path, quantize: str | None) -> tuple[Engine, dict[str, Any]]:
    """An engine predicting labels, and its model's layers, parameters and size."""
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
    return (lambda texts: [p["label"] for p in predictor.predict(texts)]), facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for role in ("teacher", "direct", "distilled"):
        parser.add_argument(f"--{role}", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import onnxruntime
    import torch

    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    texts, gold = sst2_rows()
    texts, gold = texts[: args.rows], gold[: args.rows]
    teacher, direct, distilled = args.teacher, args.direct, args.distilled
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
    engines, facts = {}, {}
    for name, (path, quantize, _) in models.items():
        engines[name], facts[name] = describe(path, quantize)
    print(f"SST-2: {len(texts):,} sentences ({min(len(texts), DEV_ROWS)} dev)")
    speeds, outputs = race(engines, texts, args.rounds, {})
    reference = statistics.median(speeds["teacher fp32"])
    for name, labels in outputs.items():
        fp32 = outputs[models[name][2]]
        median = statistics.median(speeds[name])
        differ = sum(a != b for a, b in zip(labels, fp32))
        dev = sum(a == b for a, b in zip(labels[:DEV_ROWS], gold[:DEV_ROWS])) / min(len(gold), DEV_ROWS)
        every = sum(a == b for a, b in zip(labels, gold)) / len(gold)
        f = facts[name]
        print(f"{name}: {f['layers']} layers, {f['parameters']:,} parameters, {f['size']}; rows/s "
              f"{', '.join(f'{s:,.0f}' for s in speeds[name])} (median {median:,.0f}, {median / reference:.2f}x the teacher); "
              f"{differ} of {len(labels):,} labels differ from fp32; accuracy dev {dev:.4f}, all {every:.4f}")


if __name__ == "__main__":
    main()
