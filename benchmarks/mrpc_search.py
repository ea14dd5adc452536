"""Semantic search with nlpkit's embeddings: is a sentence's paraphrase its nearest neighbour?

    python benchmarks/mrpc_search.py [--model minilm] [--batch-size 64]

The corpus is every distinct sentence of the MRPC test file (both sides of every pair);
the queries are the first sentences of its paraphrase pairs (quality 1). Each query is
embedded (mean pooling, unit length), compared with the whole corpus by cosine (one
matrix product in numpy), its own row left out, and counted as found at k when its pair's
second sentence is among the k nearest. Printed: the corpus and query counts, recall@1,
@5 and @10, and the top 3 of the first query. ``--model`` takes what ``nlpkit embed`` takes
(an encoder alias, a run directory, an export).
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
KS = (1, 5, 10)


def mrpc_pairs() -> list[tuple[str, str, str]]:
    """(quality, sentence 1, sentence 2) of the MRPC test file."""
    with (DATA / "mrpc" / "msr_paraphrase_test.txt").open(encoding="utf-8-sig") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        return [(row[0], row[3], row[4]) for row in rows]


def top_k(queries: np.ndarray, corpus: np.ndarray, k: int, exclude: np.ndarray) -> np.ndarray:
    """The indices of the k corpus rows nearest each query (unit vectors: cosine is the
    dot product), best first; ``exclude[i]``: a row that query i may not return (itself)."""
    scores = queries @ corpus.T
    scores[np.arange(len(queries)), exclude] = -np.inf
    best = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1)
    return np.take_along_axis(best, order, axis=1)


def main() -> None:
    import nlpkit

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    pairs = mrpc_pairs()
    corpus = sorted({s for _, a, b in pairs for s in (a, b)})
    row = {sentence: i for i, sentence in enumerate(corpus)}
    positives = [(a, b) for quality, a, b in pairs if quality == "1" and a != b]
    started = time.perf_counter()
    vectors = nlpkit.embedder(args.model).embed(corpus, batch_size=args.batch_size, normalize=True)
    print(f"model {args.model}: {len(corpus)} distinct sentences embedded in {time.perf_counter() - started:.0f} s; "
          f"{len(positives)} paraphrase pairs as queries")
    queries = np.array([row[a] for a, _ in positives])
    wanted = np.array([row[b] for _, b in positives])
    found = top_k(vectors[queries], vectors, max(KS), exclude=queries)
    for k in KS:
        hits = (found[:, :k] == wanted[:, None]).any(axis=1)
        print(f"recall@{k}: {hits.mean():.4f} ({hits.sum()} of {len(hits)})")
    print(f"query: {positives[0][0]}")
    for rank, index in enumerate(found[0, :3], start=1):
        mark = "  <- its paraphrase" if index == wanted[0] else ""
        print(f"  {rank}. {float(vectors[queries[0]] @ vectors[index]):.3f} {corpus[index]}{mark}")


if __name__ == "__main__":
    main()
