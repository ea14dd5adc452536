"""``nlpkit predict`` as a user runs it: wall and CPU time of the whole command for 2
lines (start-up) and for N SST-2 sentences (throughput), for two checkouts side by
side, alternating in one run, plus the import floor (torch + transformers' BERT).

    python benchmarks/predict_cli.py RUN_DIR [--old /tmp/predict-old] [--rows 4000] [--repeats 2]

RUN_DIR: a finished run (e.g. runs/quickstart); --old: another checkout of nlpkit (a
``git worktree add /tmp/predict-old COMMIT``), run with its own code on the same run and
inputs (without it, only this checkout's configurations run). Each configuration runs in a fresh process; the table gives the median of the
repeats. Rows must agree: the script checks that both checkouts predict the same labels.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NLPKIT_DATA", REPO.parent / "shared" / "data"))
REVIEWS = ["a gripping , beautifully acted film", "the plot is a mess and the jokes fall flat"]
IMPORT_FLOOR = "import torch, transformers.models.bert.modeling_bert; from transformers import AutoTokenizer"


def sst2_sentences(n: int, start: int = 10_000) -> list[str]:
    """SST-2 training sentences the quickstart run never saw (it trains on the first 2,000)."""
    lines = (DATA / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1 + start : 1 + start + n]
    return [line.split("\t")[0].strip() for line in lines]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stdout of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def checkout_env(code: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "TRANSFORMERS_VERBOSITY"}
    env["PYTHONPATH"] = f"{code}{os.pathsep}{code / 'plugins'}"
    return {**env, **extra}


def configurations(args: argparse.Namespace) -> dict[str, tuple[Path, dict[str, str], list[str]]]:
    """name -> (checkout, extra environment, extra predict arguments)."""
    configs = {"old": (args.old, {}, [])} if args.old else {}
    configs["new"] = (REPO, {}, [])
    configs["new, OMP_WAIT_POLICY=PASSIVE"] = (REPO, {"OMP_WAIT_POLICY": "PASSIVE"}, [])
    for size in args.batch_sizes:
        configs[f"new, --batch-size {size}"] = (REPO, {}, ["--batch-size", str(size)])
    return configs


def run_all(args: argparse.Namespace, inputs: dict[str, Path]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    outputs: dict[str, list[str]] = {}
    configs = configurations(args)
    for repeat in range(args.repeats):
        for name, (code, extra, options) in configs.items():  # alternating: each repeat runs every one
            env = checkout_env(code, extra)
            if name == "new":
                floor = timed([sys.executable, "-c", IMPORT_FLOOR], env)
                results.setdefault(("import floor", "-"), []).append(floor[:2])
                print(f"repeat {repeat + 1}: {'import floor':32s} {'-':14s} wall {floor[0]:7.2f} s  cpu {floor[1]:7.2f} s")
            for label, path in inputs.items():
                command = [sys.executable, "-m", "nlpkit", "predict", str(args.run_dir), "--input", str(path), *options]
                wall, cpu, stdout = timed(command, env)
                results.setdefault((name, label), []).append((wall, cpu))
                labels = [json.loads(line)["label"] for line in stdout.splitlines()]
                if outputs.setdefault(label, labels) != labels:
                    raise SystemExit(f"{name} predicts other labels than the first configuration on {label}")
                print(f"repeat {repeat + 1}: {name:32s} {label:14s} wall {wall:7.2f} s  cpu {cpu:7.2f} s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--old", type=Path, help="another nlpkit checkout to compare with")
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[], help="also run the new code with these")
    args = parser.parse_args()
    from nlpkit.precision import resolve_precision

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; precision auto -> {resolve_precision('auto')}")
    with tempfile.TemporaryDirectory() as folder:
        inputs = {"2 lines": Path(folder) / "two.txt", f"{args.rows} SST-2": Path(folder) / "sst2.txt"}
        inputs["2 lines"].write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
        inputs[f"{args.rows} SST-2"].write_text("\n".join(sst2_sentences(args.rows)) + "\n", encoding="utf-8")
        results = run_all(args, inputs)
    print(f"\nmedian of {args.repeats}; load average now {os.getloadavg()[0]:.1f}")
    for (name, label), times in results.items():
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        rate = f"  {args.rows / wall:6.1f} rows/s" if label.endswith("SST-2") else ""
        print(f"{name:32s} {label:14s} wall {wall:7.2f} s  cpu {cpu:7.2f} s{rate}")


if __name__ == "__main__":
    main()
