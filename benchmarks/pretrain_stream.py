"""Streaming a pre-training corpus into shards: throughput and memory.

1. Writes a corpus of ``--mb`` MB under ``--work`` (WikiText-2's ``wiki.test.raw``
   repeated; never in the repository).
2. Throughput, side by side on the first ``--sample-mb`` MB of it, alternating for
   ``--rounds`` rounds: nlpkit's streaming pass (read documents, split sentences,
   tokenize a chunk of documents at a time with the fast tokenizer, pack sequences,
   write shards) against a plain loop of batched ``tokenizer(lines)`` calls that keeps
   nothing. Both are given as text tokens per second (the plain loop's token count).
3. ``nlpkit run`` of ``task: pretrain`` on the whole corpus in a child process under
   ``prlimit --data`` (the process's heap and other private memory; the corpus file and
   the memory-mapped shards are file-backed and not counted) and, with ``--cgroup``, in
   a memory cgroup of the same limit (everything the process uses, page cache of the
   corpus and the shards included, which the kernel must reclaim to stay under it; needs
   root): the streaming pass over the whole corpus, then ``--steps`` training steps of a
   small scratch BERT. Prints the child's peak RSS (and the cgroup's peak), its wall
   time, the streaming pass's time and text tokens per second (from ``train.log``) and
   the shards' size.

    python benchmarks/pretrain_stream.py --mb 300 --limit 2G --steps 20 --cgroup

Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
SOURCE = Path(os.environ.get("NLPKIT_DATA", "../shared/data")) / "wikitext2" / "wiki.test.raw"


def write_corpus(path: Path, megabytes: float) -> Path:
    """``wiki.test.raw`` repeated up to ``megabytes`` MB (kept for a rerun of the same size)."""
    size = int(megabytes * 1e6)
    if path.exists() and path.stat().st_size >= size:
        return path
    block = SOURCE.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        written = 0
        while written < size:
            out.write(block)
            written += len(block)
    return path


def plain_loop(path: Path, tokenizer, batch: int = 1000) -> int:
    """Text tokens of every non-blank line, by batched ``tokenizer(...)`` calls."""
    tokens, lines = 0, []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                lines.append(line.strip())
            if len(lines) == batch:
                tokens += sum(map(len, tokenizer(lines, add_special_tokens=False)["input_ids"]))
                lines = []
    if lines:
        tokens += sum(map(len, tokenizer(lines, add_special_tokens=False)["input_ids"]))
    return tokens


def streaming_pass(path: Path, tokenizer, folder: Path) -> int:
    """nlpkit's streaming pass into shards; returns the features written."""
    from nlpkit.data import ENCODE_CHUNK
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.shards import ShardedFeatures, encode_stream
    from nlpkit.task import TaskSettings

    recipe = load_recipe({"task": "pretrain", "data": {"train": str(path)}})
    task = get_task("pretrain")(TaskSettings.of(recipe))
    shutil.rmtree(folder, ignore_errors=True)
    encode_stream(task, task.stream(path, "train"), tokenizer, folder, "bench", training=True, split="train",
                  chunk=ENCODE_CHUNK)
    return len(ShardedFeatures(folder, "bench"))


def throughput(corpus: Path, work: Path, sample_mb: float, rounds: int) -> None:
    from nlpkit.encoder import quiet_transformers
    from nlpkit.plugins import resolve_encoder

    quiet_transformers()
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder("minilm"))
    sample = work / "sample.raw"
    with corpus.open("rb") as source, sample.open("wb") as out:
        out.write(source.read(int(sample_mb * 1e6)).rsplit(b"\n", 1)[0] + b"\n")
    tokens = plain_loop(sample, tokenizer)
    print(f"sample: {sample_mb} MB, {tokens:,} text tokens (MiniLM's WordPiece)")
    times: dict[str, list[float]] = {"plain tokenizer(...) loop": [], "nlpkit streaming pass": []}
    for _ in range(rounds):
        for name in times:
            start = time.perf_counter()
            plain_loop(sample, tokenizer) if name.startswith("plain") else streaming_pass(sample, tokenizer, work / "shards")
            times[name].append(time.perf_counter() - start)
    for name, seconds in times.items():
        best = min(seconds)
        print(f"{name:<28} {tokens / best:>12,.0f} tokens/s  (best of {rounds}: {best:.2f} s; all: "
              f"{', '.join(f'{s:.2f}' for s in seconds)})")
    plain, ours = (min(s) for s in times.values())
    print(f"streaming pass / plain loop: {plain / ours:.2f}x the plain loop's speed")


def bounded_run(corpus: Path, work: Path, limit: str, steps: int, cgroup: bool) -> None:
    recipe = {
        "task": "pretrain",
        "encoder": {"name": "minilm", "init": "scratch", "max_length": 128,
                    "config": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                               "intermediate_size": 512}},
        "data": {"train": str(corpus), "cache_dir": str(work / "cache")},
        "train": {"epochs": 1, "max_steps": steps, "batch_size": 32, "precision": "32"},
        "output": {"dir": str(work / "run"), "report": False},
    }
    shutil.rmtree(work / "cache", ignore_errors=True)
    shutil.rmtree(work / "run", ignore_errors=True)
    (work / "recipe.json").write_text(json.dumps(recipe))
    command = ["prlimit", f"--data={_bytes(limit)}", sys.executable, "-m", "nlpkit", "run", str(work / "recipe.json")]
    group = MemoryGroup(_bytes(limit)) if cgroup else None
    start = time.perf_counter()
    try:
        result = subprocess.run(command, capture_output=True, text=True, preexec_fn=group.enter if group else None)
    finally:
        group_peak = group.close() if group else None
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB -> MiB
    if result.returncode != 0:
        print(result.stderr[-3000:])
        raise SystemExit(f"the bounded run failed (exit {result.returncode})")
    (folder,) = (work / "cache" / "features").glob("*.shards")
    index = json.loads((folder / "index.json").read_text())
    shard_bytes = sum(p.stat().st_size for p in folder.iterdir())
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    tokens = _corpus_tokens(corpus)
    streaming = _streaming_seconds(work / "run" / "train.log")
    limits = f"prlimit --data={limit}" + (f" and a {limit} memory cgroup" if group else "")
    print(f"bounded run under {limits}: exit 0 in {wall:,.0f} s; peak RSS {peak:,.0f} MiB"
          + (f"; the cgroup's peak {group_peak / 2**20:,.0f} MiB" if group_peak is not None else ""))
    print(f"corpus {corpus.stat().st_size / 1e6:,.0f} MB -> {index['examples']:,} documents, "
          f"{tokens:,} text tokens -> {index['features']:,} sequences in {len(index['shards'])} shards "
          f"({shard_bytes / 1e6:,.0f} MB); {metrics['training']['optimizer_steps']} training steps")
    print(f"streaming pass: {streaming:,.0f} s, {tokens / streaming:,.0f} text tokens/s")


def _corpus_tokens(corpus: Path) -> int:
    """The corpus's text tokens, as the plain loop counts them: it is whole copies of
    ``wiki.test.raw``, so one copy's count times the copies."""
    from nlpkit.plugins import resolve_encoder
    from transformers import AutoTokenizer

    copies, rest = divmod(corpus.stat().st_size, SOURCE.stat().st_size)
    assert rest == 0, f"{corpus} is not whole copies of {SOURCE}"
    return copies * plain_loop(SOURCE, AutoTokenizer.from_pretrained(resolve_encoder("minilm")))


def _streaming_seconds(log: Path) -> float:
    """From the log line that names the streamed corpus to the one that names its shards."""
    stamps: list[datetime] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        wanted = " shards at " if stamps else "streamed from"
        if wanted in line:
            stamps.append(datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f"))
            if len(stamps) == 2:
                return (stamps[1] - stamps[0]).total_seconds()
    raise SystemExit(f"{log}: no streaming pass logged")


class MemoryGroup:
    """A memory cgroup (v2, or v1's memory controller) limited to ``limit`` bytes, for one
    child process: :meth:`enter` runs in the child before it starts, :meth:`close` gives
    the group's peak usage in bytes (None where the kernel does not keep one) and removes it."""

    def __init__(self, limit: int) -> None:
        root = Path("/sys/fs/cgroup")
        name = f"nlpkit-bench-{os.getpid()}"
        if (root / "cgroup.controllers").exists():  # v2
            self.path, files = root / name, ("memory.max", "memory.peak")
        else:
            self.path, files = root / "memory" / name, ("memory.limit_in_bytes", "memory.max_usage_in_bytes")
        self.limit_file, self.peak_file = files
        self.path.mkdir()
        (self.path / self.limit_file).write_text(str(limit))
        if (self.path / "memory.memsw.limit_in_bytes").exists():  # v1 with swap accounting: no swap either
            (self.path / "memory.memsw.limit_in_bytes").write_text(str(limit))

    def enter(self) -> None:
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> int | None:
        peak = self.path / self.peak_file
        value = int(peak.read_text()) if peak.exists() else None
        self.path.rmdir()
        return value


def _bytes(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=300, help="corpus size in MB (default 300)")
    parser.add_argument("--sample-mb", type=float, default=5, help="text for the side-by-side throughput")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", default="2G", help="prlimit --data for the bounded run")
    parser.add_argument("--steps", type=int, default=20, help="training steps of the bounded run")
    parser.add_argument("--work", type=Path, default=Path("/tmp/nlpkit-pretrain-stream"))
    parser.add_argument("--cgroup", action="store_true", help="also run it in a memory cgroup of --limit (root)")
    parser.add_argument("--skip", choices=["throughput", "run"], help="leave one part out")
    args = parser.parse_args()
    corpus = write_corpus(args.work / f"corpus-{args.mb:g}MB.raw", args.mb)
    if args.skip != "throughput":
        throughput(corpus, args.work, args.sample_mb, args.rounds)
    if args.skip != "run":
        bounded_run(corpus, args.work, args.limit, args.steps, args.cgroup)


if __name__ == "__main__":
    main()
