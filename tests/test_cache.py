"""Encoded splits are cached by data, tokenizer and settings, and found again."""

from __future__ import annotations

from pathlib import Path

import pytest

import nlpkit


@pytest.fixture
def cached_recipe(classification_recipe: dict, tmp_path: Path) -> dict:
    """One epoch, with the feature cache in tmp_path/features."""
    data = {**classification_recipe["data"], "cache_dir": str(tmp_path / "features")}
    return {**classification_recipe, "data": data, "train": {**classification_recipe["train"], "epochs": 1}}


def test_a_second_run_takes_every_split_from_the_cache(cached_recipe: dict, tmp_path: Path) -> None:
    cache, recipe = tmp_path / "features", cached_recipe
    nlpkit.run(recipe, overwrite=True)
    files = sorted(p.name for p in cache.rglob("*.safetensors"))
    assert len(files) == 3  # train, validation, test

    result = nlpkit.run(recipe, overwrite=True)
    log = (result.run_dir / "train.log").read_text(encoding="utf-8").splitlines()
    hits = [line.split(" INFO ")[1] for line in log if "features from cache" in line]
    # Encoding train in the first run left truncation settings on the tokenizer; they
    # must not change the keys of the splits encoded after it.
    assert [h.split(":")[0] for h in hits] == ["data.train", "data.validation", "data.test"]
    assert sorted(p.name for p in cache.rglob("*.safetensors")) == files


def test_other_settings_get_another_entry(cached_recipe: dict, tmp_path: Path) -> None:
    cache, recipe = tmp_path / "features", cached_recipe
    nlpkit.run(recipe, overwrite=True)
    shorter = {**recipe, "encoder": {**recipe["encoder"], "max_length": 16}}
    nlpkit.run(shorter, overwrite=True)
    assert len(list(cache.rglob("*.safetensors"))) == 6
