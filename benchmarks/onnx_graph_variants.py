"""Variants of the ONNX graph of a MiniLM-sized classifier, timed side by side.

    python benchmarks/onnx_graph_variants.py RUN_DIR

Takes the task of a finished classification run (its head's shape: the label count and
pooling) and puts a fresh head (seed 0) on the MiniLM encoder, then traces the graph as
``nlpkit export --format onnx`` does and times, on 20 batches of 64 rows of 8 to 29
random tokens (seed 0), alternating over 3 rounds: the traced graph, the graph fused by
onnxruntime's transformer optimizer, int8 quantizations of both (per channel; of the
fused one also with reduce_range, and uint8 weights), and the torch model. Prints each
variant's largest logit difference from the torch model and the share of rows whose
arg-max agrees with it (a fresh head's logits are close to 0, so agreement here is a
floor, not the trained model's), and rows/s per round and the median.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def main(run: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    from nlpkit.encoders import minilm_path
    from nlpkit.export import onnx as graphs
    from nlpkit.model import TaskModel
    from nlpkit.predictor import Predictor

    task = Predictor.load(run).task
    encoder, tokenizer = AutoModel.from_pretrained(minilm_path()), AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)
    model = TaskModel(encoder, task.build_head(encoder)).eval()
    predictor = Predictor(task, tokenizer, model)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "nlpkit-onnx-variants"
    work.mkdir(exist_ok=True)
    graphs._trace(predictor, graphs.input_names(tokenizer), work / "traced.onnx")
    graphs._fuse(work / "traced.onnx", encoder.config, work / "fused.onnx")
    graphs._quantize(work / "traced.onnx", work / "traced-int8.onnx")
    graphs._quantize(work / "fused.onnx", work / "fused-int8.onnx")
    for name, options in (("fused-int8-reduce-range", {"weight_type": QuantType.QInt8, "per_channel": True, "reduce_range": True}),
                          ("fused-uint8", {"weight_type": QuantType.QUInt8})):
        quantize_dynamic(str(work / "fused.onnx"), str(work / f"{name}.onnx"),
                         extra_options={"DefaultTensorType": TensorProto.FLOAT}, **options)
    names = ["traced", "fused", "traced-int8", "fused-int8", "fused-int8-reduce-range", "fused-uint8"]
    sessions = {name: graphs.session(work / f"{name}.onnx") for name in names}
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(20):
        length = int(rng.integers(8, 30))
        batches.append({"input_ids": rng.integers(1000, 20000, (64, length)).astype(np.int64),
                        "attention_mask": np.ones((64, length), dtype=np.int64),
                        "token_type_ids": np.zeros((64, length), dtype=np.int64)})
    with torch.inference_mode():
        reference = [model({k: torch.from_numpy(v) for k, v in b.items()}).numpy() for b in batches[:5]]
    for name, runner in sessions.items():
        outputs = [runner.run(None, b)[0] for b in batches[:5]]
        difference = max(float(np.abs(o - r).max()) for o, r in zip(outputs, reference))
        agree = np.mean([(o.argmax(1) == r.argmax(1)).mean() for o, r in zip(outputs, reference)])
        print(f"{name}: max abs logit difference {difference:.2g}, arg-max agreement {agree:.1%}")
    seconds: dict[str, list[float]] = {name: [] for name in [*names, "torch"]}
    for number in range(3):
        for name, runner in sessions.items():
            started = time.perf_counter()
            for batch in batches:
                runner.run(None, batch)
            seconds[name].append(time.perf_counter() - started)
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                model({k: torch.from_numpy(v) for k, v in batch.items()})
        seconds["torch"].append(time.perf_counter() - started)
        print(f"round {number + 1}: " + ", ".join(f"{n} {1280 / s[-1]:,.0f}" for n, s in seconds.items()), flush=True)
    print("median rows/s: " + ", ".join(f"{n} {1280 / statistics.median(s):,.0f}" for n, s in seconds.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
