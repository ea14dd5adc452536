"""Seeded parts of the training file as validation and test data (data.validation_split,
data.test_split), for data sets that ship one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpkit.data import cache_key, read_splits
from nlpkit.errors import RecipeError
from nlpkit.plugins import get_task
from nlpkit.recipe import load_recipe
from nlpkit.task import TaskSettings


def splits(path: Path, **data: object) -> dict[str, list[str]]:
    recipe = load_recipe({"task": "classification", "data": {"train": str(path), **data}})
    task = get_task("classification")(TaskSettings.of(recipe))
    return {name: [e.text for e in split.examples] for name, split in read_splits(task, recipe).items()}


@pytest.fixture()
def numbered(tmp_path: Path) -> Path:
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"row {i}\t{i % 2}\n" for i in range(100)), encoding="utf-8")
    return path


def test_test_and_validation_parts_are_seeded_disjoint_and_cover_the_file(numbered: Path) -> None:
    parts = splits(numbered, test_split=0.2, validation_split=0.1)
    assert {name: len(rows) for name, rows in parts.items()} == {"train": 70, "test": 20, "validation": 10}
    every = [row for rows in parts.values() for row in rows]
    assert sorted(every) == sorted(f"row {i}" for i in range(100))
    assert parts == splits(numbered, test_split=0.2, validation_split=0.1)  # the same seed, the same parts
    assert parts["test"] != splits(numbered, test_split=0.2, validation_split=0.1, split_seed=14)["test"]
    # The test set does not move with the validation fraction; without a test part the
    # validation part is what validation_split always gave.
    assert splits(numbered, test_split=0.2, validation_split=0.3)["test"] == parts["test"]
    alone = splits(numbered, validation_split=0.1)
    assert "test" not in alone and len(alone["validation"]) == 10


def test_a_part_of_a_file_is_cached_apart_from_another_part(numbered: Path) -> None:
    def train_key(seed: int) -> str:
        recipe = load_recipe({"task": "classification", "data": {"train": str(numbered), "test_split": 0.5, "split_seed": seed}})
        task = get_task("classification")(TaskSettings.of(recipe))
        train = read_splits(task, recipe)["train"]
        tokenizer = type("T", (), {"get_vocab": lambda self: {"a": 0}})()
        return cache_key(task, train, tokenizer)

    assert train_key(1) != train_key(2)  # same file, same size, other rows


def test_a_split_file_and_a_split_fraction_or_nothing_left_are_refused(numbered: Path) -> None:
    with pytest.raises(RecipeError, match="give either data.test or data.test_split, not both"):
        load_recipe({"task": "classification", "data": {"train": str(numbered), "test": str(numbered), "test_split": 0.2}})
    with pytest.raises(RecipeError, match="validation_split \\+ data.test_split leave no training data"):
        load_recipe({"task": "classification", "data": {"train": str(numbered), "test_split": 0.5, "validation_split": 0.5}})
