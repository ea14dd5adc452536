"""The SST-2 quickstart with its features read in place from the cache's store against
the same run with the features in a list in memory (``data.cache=false``), side by side.

The two alternate in one process, ``--rounds`` times each, on the same recipe and seed
(``recipes/quickstart.yaml``: 2,000 training sentences, one epoch, the 872 dev
sentences); a store run reads the store it writes (the first) or finds. Printed per run: the dev
accuracy and training throughput (examples per second, validation excluded); then the
medians and their ratio. Before the runs, the data path alone: the seconds one epoch of
the quickstart's training batches takes to make from the store and from the list
(``--loader-rounds``, alternating), and the memory the training split's features take
held as a list and as a store view (tracemalloc's peak while loading them), for the
quickstart's split and for the whole SST-2 training split.

    python benchmarks/feature_store.py --rounds 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "quickstart.yaml"


def one_run(cache: Path, out: Path, mapped: bool) -> tuple[float, float]:
    import nlpkit

    overrides = {"data.cache": mapped, "data.cache_dir": str(cache), "output.dir": str(out)}
    result = nlpkit.run(RECIPE, overrides, overwrite=True)
    return result.metrics["validation"]["accuracy"], result.metrics["training"]["train_examples_per_second"]


def peak_bytes(load: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        kept = load()
        del kept
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def feature_memory(cache: Path, limit: int | None) -> tuple[int, int, int]:
    """Features, bytes held as a list, bytes held as a view, of the training split."""
    from nlpkit import feature_cache
    from nlpkit.cache import entries
    from nlpkit.data import cache_dir, encode_split, read_splits
    from nlpkit.encoder import load_tokenizer
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    overrides = [f"data.cache_dir={cache}", "data.validation=null", f"data.limit_train={limit or 'null'}"]
    recipe = load_recipe(RECIPE, overrides)
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    split = read_splits(task, recipe)["train"]
    task.setup(split.examples)
    encode_split(task, split, load_tokenizer(recipe.encoder), recipe)
    key = split.features.key
    path = next(e.path for e in entries(cache_dir(recipe)) if e.path.name.endswith(f"-{key}.safetensors"))
    from nlpkit.feature_view import MappedFeatures

    as_list = peak_bytes(lambda: feature_cache.load_features(path, key))
    as_view = peak_bytes(lambda: MappedFeatures(path, key))
    return len(split.features), as_list, as_view


def loader_seconds(cache: Path, rounds: int) -> dict[str, list[float]]:
    """Seconds to make one epoch of the quickstart's training batches, store and list."""
    import time

    from nlpkit.data import encode_split, read_splits, train_loader
    from nlpkit.encoder import load_tokenizer
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    recipe = load_recipe(RECIPE, [f"data.cache_dir={cache}", "data.validation=null"])
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    split = read_splits(task, recipe)["train"]
    task.setup(split.examples)
    tokenizer = load_tokenizer(recipe.encoder)
    encode_split(task, split, tokenizer, recipe)
    sources = {"store": split.features, "list": list(split.features)}
    seconds: dict[str, list[float]] = {"store": [], "list": []}
    for _ in range(rounds):
        for name, features in sources.items():
            start = time.perf_counter()
            for _batch in train_loader(task, features, tokenizer, recipe):
                pass
            seconds[name].append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="training runs of each side")
    parser.add_argument("--loader-rounds", type=int, default=5, help="epochs of batches made from each side")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {"store": [], "list": []}
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "run"
        seconds = loader_seconds(cache, args.loader_rounds)
        print("one epoch of training batches: " + ", ".join(
            f"{name} {statistics.median(s):.3f} s (median of {len(s)})" for name, s in seconds.items()), flush=True)
        for limit in (2000, None):
            count, as_list, as_view = feature_memory(cache, limit)
            print(f"{count:,} training features: {as_list / 1e6:.1f} MB as a list, {as_view / 1e6:.2f} MB as a view")
        for round_ in range(args.rounds):
            for name in ("store", "list") if round_ % 2 == 0 else ("list", "store"):
                accuracy, speed = one_run(cache, out, mapped=name == "store")
                results[name].append((accuracy, speed))
                print(f"round {round_ + 1} {name:>5}: dev accuracy {accuracy:.4f}, {speed:.1f} examples/s", flush=True)
        if args.rounds:
            speeds = {name: statistics.median(s for _, s in runs) for name, runs in results.items()}
            print(f"median examples/s: store {speeds['store']:.1f}, list {speeds['list']:.1f}, "
                  f"ratio {speeds['store'] / speeds['list']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
