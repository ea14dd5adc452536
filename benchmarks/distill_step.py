"""What the teacher costs a distillation step: training steps of a 3-layer student with and
without the teacher's forward pass, side by side.

    python benchmarks/distill_step.py --teacher RUN [--batches 20] [--rounds 3]

RUN: a finished SST-2 classification run (the quickstart's). The student is MiniLM's
layers 0, 2 and 4 with the task's head (``encoder.layers: [0, 2, 4]``); the batches are
32 SST-2 training sentences each, padded to their longest. A plain step is forward, the
task's loss, backward and AdamW; a distillation step adds the teacher's forward pass (eval
mode, no gradients) and the soft loss (:class:`nlpkit.distill.Distiller`). The two kinds
alternate, round after round, on the same batches. The difference is what caching the
teacher's outputs could save on every epoch after the first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import torch

    import nlpkit
    from nlpkit.data import encode, eval_loader
    from nlpkit.distill import Distiller
    from nlpkit.encoder import load_encoder
    from nlpkit.model import TaskModel
    from nlpkit.sections import DistillSection, EncoderSection

    teacher = nlpkit.load(args.teacher)
    task, tokenizer = teacher.task, teacher.tokenizer
    examples = task.read(DATA / "sst2" / "train.tsv", "train")[: 32 * args.batches]
    features = encode(task, examples, tokenizer, training=True, desc="tokenizing")
    batches = list(eval_loader(task, features, tokenizer, 32))
    torch.manual_seed(42)
    encoder = load_encoder(EncoderSection(name="minilm", layers=[0, 2, 4]), len(tokenizer))
    student = TaskModel(encoder, task.build_head(encoder)).train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-5, fused=True)
    distiller = Distiller(teacher.model, task, DistillSection(teacher=str(args.teacher)))

    def step(batch: dict, distil: bool) -> None:
        output = student(batch)
        loss = student.head.loss(output, batch)
        if distil:
            loss, _ = distiller.loss(output, loss, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    timings: dict[str, list[float]] = {"plain": [], "distil": []}
    for kind in ("plain", "distil"):  # warm both paths
        step(batches[0], kind == "distil")
    for number in range(args.rounds):
        for kind in (("plain", "distil") if number % 2 == 0 else ("distil", "plain")):
            started = time.perf_counter()
            for batch in batches:
                step(batch, kind == "distil")
            timings[kind].append((time.perf_counter() - started) / len(batches) * 1000)
        print(f"round {number + 1}: " + ", ".join(f"{k} {v[-1]:.0f} ms/step" for k, v in timings.items()), flush=True)
    plain, distil = (statistics.median(timings[k]) for k in ("plain", "distil"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(batches)} batches of 32")
    print(f"median ms/step: plain {plain:.0f}, distillation {distil:.0f} ({distil / plain:.2f}x); "
          f"the teacher's share of a distillation step: {(distil - plain) / distil:.0%}")


if __name__ == "__main__":
    main()
