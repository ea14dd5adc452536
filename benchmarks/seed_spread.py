"""How much of a recipe's score is the seed: run it under several seeds, print the spread.

One dev set of 872 sentences has a standard error of about a point, and the seed moves
initialisation of the head, dropout masks and batch order: a single run says little about
whether a recipe clears a bar. This script runs ``nlpkit run RECIPE`` once per seed (and
per variant, a set of extra overrides), each in its own process, ``--parallel`` at a time,
and prints every score, then mean, standard deviation, min and max per variant.

    python benchmarks/seed_spread.py recipes/sst2.yaml --seeds 1 2 3 4 5 --parallel 5 \\
        --variant base= --variant lr5e-5=train.lr=5e-5

Each variant is ``NAME=OVERRIDE[,OVERRIDE...]`` (``NAME=`` for the recipe as it is). The
metric is read from each run's ``metrics.json`` (``--split``/``--metric``). Parallel runs
share the machine: on a CPU run one at a time; on a GPU several fit side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, sep, overrides = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--variant wants NAME=OVERRIDE[,OVERRIDE...], got {text!r}")
    return name, [o for o in overrides.split(",") if o]


def run_one(recipe: str, overrides: list[str], out_dir: Path, log_path: Path) -> dict:
    command = [sys.executable, "-m", "nlpkit", "run", recipe, *overrides, f"output.dir={out_dir}"]
    start = time.perf_counter()
    with log_path.open("w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if code != 0:
        tail = log_path.read_text().splitlines()[-15:]
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n" + "\n".join(tail))
    metrics = json.loads((out_dir / "metrics.json").read_text())
    return {"metrics": metrics, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--variant", type=parse_variant, action="append", help="NAME=OVERRIDE[,OVERRIDE...]")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--split", default="validation")
    parser.add_argument("--metric", default="accuracy")
    parser.add_argument("--out", type=Path, help="keep the run directories here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write every score here")
    args = parser.parse_args()
    variants = args.variant or [("recipe", [])]

    root = args.out or Path(tempfile.mkdtemp(prefix="seed-spread-"))
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(name, overrides, seed) for name, overrides in variants for seed in args.seeds]

    def job(item: tuple[str, list[str], int]) -> tuple[str, int, dict]:
        name, overrides, seed = item
        run_dir = root / f"{name}-seed{seed}"
        result = run_one(args.recipe, [*overrides, f"train.seed={seed}"], run_dir, root / f"{name}-seed{seed}.log")
        score = result["metrics"][args.split][args.metric]
        print(f"{name:>16} seed {seed:>4}: {args.metric} {score:.4f}  ({result['wall']:.0f} s)", flush=True)
        return name, seed, {"score": score, "wall_seconds": round(result["wall"], 1), **result["metrics"].get("training", {})}

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        results = list(pool.map(job, jobs))

    print(f"\n{args.recipe}: {args.split} {args.metric} over seeds {' '.join(map(str, args.seeds))}")
    print(f"{'variant':>16} {'mean':>7} {'sd':>7} {'min':>7} {'max':>7}  overrides")
    summary = {}
    for name, overrides in variants:
        scores = [r["score"] for n, _, r in results if n == name]
        sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
        print(f"{name:>16} {statistics.mean(scores):7.4f} {sd:7.4f} {min(scores):7.4f} {max(scores):7.4f}  {' '.join(overrides) or '-'}")
        summary[name] = {"overrides": overrides, "runs": {str(s): r for n, s, r in results if n == name}}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    print(f"run directories and logs: {root}")


if __name__ == "__main__":
    main()
