"""How big the feature cache gets: each shipped recipe's training split encoded as a run
encodes it (the recipe's tokenizer, max length and settings), stored, and measured.

Prints, per recipe: examples, features (windows for QA and long NER sentences), the
store's size on disk, bytes per feature, and how long encoding and loading the store back
took. The cache goes to a temporary folder (``$NLPKIT_CACHE`` is not touched).

    python benchmarks/cache_size.py sst2 conll2003 squad --limit 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def measure(recipe_name: str, limit: int | None, cache: Path) -> str:
    from nlpkit.cache import entries
    from nlpkit.data import cache_dir, encode_split, read_splits
    from nlpkit.encoder import load_tokenizer
    from nlpkit.plugins import get_task
    from nlpkit.recipe import load_recipe
    from nlpkit.task import TaskSettings

    overrides = [f"data.cache_dir={cache / recipe_name}", "data.validation=null", "data.test=null"]
    if limit:
        overrides.append(f"data.limit_train={limit}")
    recipe = load_recipe(REPO / "recipes" / f"{recipe_name}.yaml", overrides)
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    split = read_splits(task, recipe)["train"]
    task.setup(split.examples)
    tokenizer = load_tokenizer(recipe.encoder, texts=task.texts(split.examples))
    start = time.perf_counter()
    encode_split(task, split, tokenizer, recipe)
    encoded = time.perf_counter() - start
    start = time.perf_counter()
    encode_split(task, split, tokenizer, recipe)  # from the store
    loaded = time.perf_counter() - start
    (store,) = [e for e in entries(cache_dir(recipe)) if e.ours]
    return (
        f"{recipe_name:<10} {len(split.examples):>8,} {len(split.features):>9,} {store.size / 1e6:>9.2f} "
        f"{store.size / len(split.features):>8.0f} {encoded:>9.1f} {loaded:>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="+", help="names of recipes/*.yaml")
    parser.add_argument("--limit", type=int, help="data.limit_train (default: the whole training split)")
    args = parser.parse_args()
    print(f"{'recipe':<10} {'examples':>8} {'features':>9} {'MB':>9} {'B/feat':>8} {'encode s':>9} {'load s':>8}")
    with tempfile.TemporaryDirectory() as cache:
        for name in args.recipes:
            print(measure(name, args.limit, Path(cache)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
