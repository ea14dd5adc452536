"""uvicorn's HTTP stacks under ``nlpkit serve``'s application: the pure-Python ones that
``nlpkit[serve]`` installs (h11, asyncio's loop) against the compiled ones uvicorn takes
when they are installed (httptools, uvloop), with batching on, 32 clients.

    pip install httptools uvloop
    python benchmarks/serve_http.py RUN [--seconds 8] [--rounds 3] [--threads 1]

Two servers of RUN listen on loopback ports, the same application and settings
(``--max-batch-size 32``), one on each stack. Taking turns round after round (the order
alternating): requests/s of SST-2 dev sentences (``POST /predict``, the load test's
client) and of requests refused before the model (a blank text: 422), which measure the
HTTP path alone.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

from serve_bound import refused_rate
from serve_load import REPO, arguments, free_port, load, ready, sentences, stop

STACKS = {"h11 + asyncio": ("h11", "asyncio"), "httptools + uvloop": ("httptools", "uvloop")}
LAUNCH = """
import sys, uvicorn
from nlpkit.serve import setup_logging
from nlpkit.serve.app import create_app
from nlpkit.serve.settings import ServeSettings
run, port, http, loop, threads = sys.argv[1:]
setup_logging()
app = create_app(run, ServeSettings(port=int(port), threads=int(threads) or None))
uvicorn.run(app, host="127.0.0.1", port=int(port), http=http, loop=loop, log_config=None, access_log=False)
"""


def start(run: Path, http: str, loop: str, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins"), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen([sys.executable, "-c", LAUNCH, str(run), str(port), http, loop, str(threads)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, ready(server, port, f"the {http} + {loop} server")


def main() -> None:
    args = arguments(__doc__, seconds=8.0, rounds=3, threads=1).parse_args()
    texts = sentences()
    print(f"32 clients, {args.seconds:g} s per measurement, {args.rounds} rounds; torch threads {args.threads}; "
          f"load average {open('/proc/loadavg').read().split()[0]}")
    servers = {name: start(args.run, http, loop, args.threads) for name, (http, loop) in STACKS.items()}
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        for round_ in range(args.rounds):
            for name in (list(servers) if round_ % 2 == 0 else list(reversed(servers))):
                url = servers[name][1]
                predicted, _, errors = asyncio.run(load(url, texts, 32, args.seconds))
                refused, _ = asyncio.run(refused_rate(url, 32, args.seconds))
                rates.setdefault((name, "predict"), []).append(predicted)
                rates.setdefault((name, "refused"), []).append(refused)
                print(f"round {round_ + 1}, {name:>18}: {predicted:6.1f} predictions/s ({errors} errors), "
                      f"{refused:6.1f} refusals/s")
    finally:
        stop(servers.values())
    old, new = STACKS
    for kind in ("predict", "refused"):
        a, b = statistics.median(rates[(old, kind)]), statistics.median(rates[(new, kind)])
        print(f"medians, {kind}: {old} {a:.1f}/s, {new} {b:.1f}/s, ratio {b / a:.2f}")
    print(f"load average at the end {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    main()
