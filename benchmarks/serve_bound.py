"""What bounds dynamic batching's gain in ``nlpkit serve``: the cost of one input in a
forward pass alone against in a pass of 32, and the cost of a request that never reaches
the model (HTTP, JSON, validation, the client), on the same machine.

    python benchmarks/serve_bound.py RUN [--rounds 5] [--threads 1] [--seconds 5]

In this process, on RUN's model (``Predictor.predict_examples``, what the server's
worker thread runs: tokenizing, forward, decoding), for 256 SST-2 dev sentences: each
alone (batching off), and 32 at a time cut into passes as the server cuts them (its
cost-based cuts, and for comparison the earlier half-length rule), alternating round
after round; and a one-word input alone (a pass's fixed cost: what batching shares out).
Printed: ms per input of each and the ratios (the most batching can save on the model's
side). Then one
server of RUN (batching off), 32 clients sending requests the server refuses before the
model (a blank text: a 422 after the body is read, parsed and validated): requests/s of
HTTP alone. With h ms of HTTP per request and f1, f32 ms per input of the model, the
best ratio batching can reach is (h + f1) / (h + f32), when HTTP and model share the
cores (both run on them, one after the other).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from serve_load import arguments, percentile, sentences, start

from nlpkit.serve.batcher import PASS_COST, _Item, _Job, forwards

ROWS = 256


def half_length_cuts(items: list[_Item[Any]], max_batch_size: int) -> list[list[_Item[Any]]]:
    """The earlier rule, for comparison: longest first, a new pass where the next input is
    under half as long as the pass's longest."""
    groups: list[list[_Item[Any]]] = []
    for item in sorted(items, key=lambda i: -i.length):
        if groups and len(groups[-1]) < max_batch_size and item.length * 2 >= groups[-1][0].length:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


MODES: dict[str, Callable[[list[_Item[Any]]], list[list[_Item[Any]]]]] = {
    "alone": lambda items: [[item] for item in items],
    "32, half-length cuts": lambda items: half_length_cuts(items, 32),
    "32, cost cuts": lambda items: forwards(items, 32),
}
"""How the server would run 32 waiting inputs: one pass each (batching off), or cut
into passes by each rule."""


def model_costs(run: Path, texts: list[str], rounds: int, threads: int) -> dict[str, list[float]]:
    """ms per input of each mode, per round, and of a one-word input alone (``"fixed"``:
    a pass's fixed cost)."""
    import torch

    import nlpkit

    torch.set_num_threads(threads)
    predictor = nlpkit.load(run)
    examples = predictor.examples_from_inputs(texts[:ROWS])
    job = _Job(None, [], 0)  # type: ignore[arg-type]
    batches = [[_Item(e, len(t), job, i) for i, (e, t) in enumerate(zip(examples[s:s + 32], texts[s:s + 32]))]
               for s in range(0, ROWS, 32)]
    word = predictor.examples_from_inputs(["good"])
    costs: dict[str, list[float]] = {name: [] for name in [*MODES, "fixed"]}
    predictor.predict_examples(examples[:32], batch_size=32)  # warm up
    for round_ in range(rounds):
        for name in (list(MODES) if round_ % 2 == 0 else list(reversed(MODES))):
            started = time.perf_counter()
            for batch in batches:
                for group in MODES[name](batch):
                    predictor.predict_examples([item.value for item in group], batch_size=32)
            costs[name].append((time.perf_counter() - started) * 1000 / ROWS)
        started = time.perf_counter()
        for _ in range(ROWS // 4):
            predictor.predict_examples(word, batch_size=1)
        costs["fixed"].append((time.perf_counter() - started) * 1000 / (ROWS // 4))
        print(f"round {round_ + 1}: ms per input: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in costs.items()))
    return costs


async def refused_rate(url: str, clients: int, seconds: float) -> tuple[float, float]:
    """(requests/s, p50 ms) of ``clients`` loops sending blank texts (422 before the model)."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            answer = await http.post(f"{url}/predict", json=" ")
            assert answer.status_code == 422, answer.text
            latencies.append(time.perf_counter() - sent)

    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, percentile(latencies, 0.5) * 1000


def main() -> None:
    args = arguments(__doc__, seconds=5.0, rounds=5, threads=1).parse_args()
    print(f"load average at the start {open('/proc/loadavg').read().split()[0]}; torch threads {args.threads}")
    costs = {name: statistics.median(values) for name, values in
             model_costs(args.run, sentences(), args.rounds, args.threads).items()}
    f1, f0 = costs["alone"], costs["fixed"]
    f32 = costs["32, cost cuts"]
    server, url = start(args.run, 1, args.threads)
    try:
        rates = [asyncio.run(refused_rate(url, 32, args.seconds)) for _ in range(args.rounds)]
    finally:
        server.terminate()
        server.wait(timeout=60)
    rate = statistics.median(r for r, _ in rates)
    http = 1000 / rate
    print(f"HTTP alone, 32 clients: {', '.join(f'{r:.0f}' for r, _ in rates)} requests/s (median {rate:.0f}: "
          f"{http:.2f} ms per request, server and client)")
    print("\nmodel, medians: " + ", ".join(f"{k} {v:.2f} ms" for k, v in costs.items()))
    print(f"ratio alone / batched: half-length cuts {f1 / costs['32, half-length cuts']:.2f}, cost cuts "
          f"{f1 / f32:.2f}; a pass's fixed cost (a one-word input) is {f0 / f1:.0%} of an input alone")
    print(f"perfect batching (one pass of 32, no padding) would give at most {f1 / (f1 - f0 + f0 / 32):.2f}: "
          f"each input's own work, {f1 - f0:.2f} ms, is paid in any pass")
    chars = statistics.mean(len(text) for text in sentences()[:ROWS])
    print(f"a pass's fixed cost in characters of input (a sentence: {chars:.0f} on average): "
          f"{f0 / ((f1 - f0) / chars):.0f} (the server's PASS_COST: {PASS_COST})")
    print(f"bound on batching's gain with HTTP on the same cores: ({http:.2f} + {f1:.2f}) / ({http:.2f} + {f32:.2f}) "
          f"= {(http + f1) / (http + f32):.2f}")
    print(f"load average at the end {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    main()
