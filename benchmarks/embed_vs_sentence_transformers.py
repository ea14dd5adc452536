"""nlpkit's sentence embeddings against sentence-transformers on the default encoder.

    python benchmarks/embed_vs_sentence_transformers.py [--rows 4000] [--batch-size 32] [--rounds 3]

SST-2 sentences (dev, then train) through ``nlpkit``'s :class:`~nlpkit.embed.Embedder`
of the alias ``minilm`` and ``SentenceTransformer`` of the same folder, at the same batch
size, both in fp32 on the CPU. The two take turns, round after round in one process (the
order alternating), so that a change in the machine's load falls on both alike; each runs
once on a few rows before the rounds. Printed: rows/s per round and the median of each,
the ratio nlpkit / sentence-transformers, and how close the vectors are (the lowest
cosine between the two embeddings of a sentence).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def sst2_sentences(rows: int) -> list[str]:
    texts: list[str] = []
    for name in ("dev.tsv", "train.tsv"):
        with (DATA / "sst2" / name).open(encoding="utf-8") as handle:
            texts += [row["sentence"].strip() for row in csv.DictReader(handle, delimiter="\t")]
    return texts[:rows]


def engines(batch_size: int) -> dict[str, Callable[[list[str]], np.ndarray]]:
    import torch
    from sentence_transformers import SentenceTransformer

    from nlpkit.embed import Embedder
    from nlpkit.encoders import minilm_path

    ours = Embedder.load("minilm")
    theirs = SentenceTransformer(minilm_path(), device="cpu")
    print(f"nlpkit: precision {ours.precision}, max_length {ours.max_length}; sentence-transformers: "
          f"max_seq_length {theirs.max_seq_length}; torch threads {torch.get_num_threads()}")
    return {
        "nlpkit": lambda texts: ours.embed(texts, batch_size=batch_size, normalize=True),
        "sentence-transformers": lambda texts: theirs.encode(texts, batch_size=batch_size, convert_to_numpy=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = sst2_sentences(args.rows)
    print(f"{len(texts)} SST-2 sentences, batch size {args.batch_size}, {args.rounds} rounds; "
          f"load average {open('/proc/loadavg').read().split()[0]}")
    runners = engines(args.batch_size)
    for run in runners.values():
        run(texts[:64])
    speeds: dict[str, list[float]] = {name: [] for name in runners}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(args.rounds):
        names = list(runners) if round_ % 2 == 0 else list(reversed(runners))
        for name in names:
            started = time.perf_counter()
            vectors[name] = runners[name](texts)
            speeds[name].append(len(texts) / (time.perf_counter() - started))
            print(f"round {round_ + 1}: {name}: {speeds[name][-1]:.1f} rows/s")
    medians = {name: statistics.median(values) for name, values in speeds.items()}
    for name, value in medians.items():
        print(f"{name}: median {value:.1f} rows/s")
    print(f"ratio nlpkit / sentence-transformers: {medians['nlpkit'] / medians['sentence-transformers']:.3f}")
    cosines = (vectors["nlpkit"] * vectors["sentence-transformers"]).sum(axis=1)  # both unit length
    print(f"cosine between the two embeddings of a sentence: min {cosines.min():.7f}, mean {cosines.mean():.7f}")
    print(f"load average at the end {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    main()
