"""Load on ``nlpkit serve``: requests/s and latency at 1, 8 and 32 concurrent clients,
with dynamic batching on and off.

    python benchmarks/serve_load.py RUN [--seconds 10] [--rounds 2] [--clients 1,8,32] [--threads N]

Two servers of RUN (a trained SST-2 run, e.g. the quickstart's) listen on loopback ports:
one batching (``--max-batch-size 32``), one running every request alone
(``--max-batch-size 1``). A bounded asyncio client (httpx) keeps N requests in flight,
each one SST-2 dev sentence (``POST /predict``), for ``--seconds`` per measurement. The
two servers take turns at each client count, round after round (the order alternating),
so that the machine's load falls on both alike; an idle server uses no CPU. Printed per
measurement: requests/s, p50 and p99 latency, errors; then the medians and the ratio
batching on / off at each client count, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable

import httpx

DATA = Path(os.environ.get("NLPKIT_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
REPO = Path(__file__).resolve().parents[1]


def sentences() -> list[str]:
    with (DATA / "sst2" / "dev.tsv").open(encoding="utf-8") as handle:
        return [row["sentence"].strip() for row in csv.DictReader(handle, delimiter="\t")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(run: Path, max_batch_size: int, threads: int | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "nlpkit", "serve", str(run), "--port", str(port), "--max-batch-size", str(max_batch_size),
         *(["--threads", str(threads)] if threads else [])],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return server, ready(server, port, f"the server (max batch {max_batch_size})")


def ready(server: subprocess.Popen[bytes], port: int, what: str) -> str:
    """The URL of ``server`` on ``port`` once ``/health`` says it is ready (180 s at most)."""
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit(f"{what} did not get ready in 180 s" if server.poll() is None else f"{what} failed to start")


async def load(url: str, texts: list[str], clients: int, seconds: float) -> tuple[float, list[float], int]:
    """(requests/s, latencies in s, errors) of ``clients`` loops sending one request at a
    time each, for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        i = number
        while time.perf_counter() < stop:
            sent = time.perf_counter()
            answer = await http.post(f"{url}/predict", json=texts[i % len(texts)])
            if answer.status_code == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors += 1
            i += clients

    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(n, http) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


def stop(servers: Iterable[tuple[subprocess.Popen[bytes], str]]) -> None:
    """SIGTERM to each server, then wait for it to end."""
    for server, _ in servers:
        server.terminate()
        server.wait(timeout=60)


def arguments(doc: str, *, seconds: float, rounds: int, threads: int | None) -> argparse.ArgumentParser:
    """The options the serving benchmarks share: RUN, --seconds per measurement, --rounds,
    the servers' --threads (None: the servers' own default)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--threads", type=int, default=threads, help="the servers' --threads")
    return parser


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = arguments(__doc__, seconds=10.0, rounds=2, threads=None)
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    counts = [int(n) for n in args.clients.split(",")]
    texts = sentences()
    print(f"{len(texts)} SST-2 dev sentences; {args.seconds:g} s per measurement, {args.rounds} rounds; "
          f"load average {open('/proc/loadavg').read().split()[0]}")
    servers = {"batching": start(args.run, 32, args.threads), "no batching": start(args.run, 1, args.threads)}
    results: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    try:
        for round_ in range(args.rounds):
            for clients in counts:
                names = list(servers) if (round_ + clients) % 2 == 0 else list(reversed(servers))
                for name in names:
                    rate, latencies, errors = asyncio.run(load(servers[name][1], texts, clients, args.seconds))
                    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
                    results.setdefault((name, clients), []).append((rate, p50, p99))
                    print(f"round {round_ + 1}, {clients:>2} clients, {name:>11}: {rate:7.1f} requests/s, "
                          f"p50 {p50:7.1f} ms, p99 {p99:7.1f} ms, {errors} errors")
    finally:
        stop(servers.values())
    summarise(results, counts)
    print(f"load average at the end {open('/proc/loadavg').read().split()[0]}")


def summarise(results: dict[tuple[str, int], list[tuple[float, float, float]]], counts: list[int]) -> None:
    print("\nmedians: clients, requests/s on / off, ratio, p50 and p99 (ms) on / off")
    for clients in counts:
        on = [statistics.median(v) for v in zip(*results[("batching", clients)])]
        off = [statistics.median(v) for v in zip(*results[("no batching", clients)])]
        print(f"{clients:>2} clients: {on[0]:7.1f} / {off[0]:7.1f} requests/s, ratio {on[0] / off[0]:.2f}; "
              f"p50 {on[1]:.1f} / {off[1]:.1f} ms; p99 {on[2]:.1f} / {off[2]:.1f} ms")


if __name__ == "__main__":
    main()
