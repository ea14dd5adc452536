"""The store read in place: a memory-mapped view gives every task's features exactly as
loading them does, refuses what loading refuses, and holds no row in memory."""

from __future__ import annotations

import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from nlpkit import feature_cache
from nlpkit.feature_view import MappedFeatures
from tests.test_feature_cache import FAMILIES, damaged_stores, encoded_splits, strictly_equal


def stored(features: list[dict[str, Any]], tmp_path: Path) -> Path:
    path = tmp_path / "store.safetensors"
    feature_cache.save_features(path, features, "key")
    return path


@pytest.mark.parametrize("family", FAMILIES)
def test_every_task_family_reads_back_exactly(family: str, tiny_encoder: Path, tmp_path: Path) -> None:
    for name, features in encoded_splits(family, tiny_encoder, tmp_path):
        view = MappedFeatures(stored(features, tmp_path), "key")
        expected = feature_cache.normalised(features)
        assert len(view) == len(expected) and strictly_equal(list(view), expected), name
        assert strictly_equal(view[-1], expected[-1]) and strictly_equal(view[1:3], expected[1:3])
        assert view.lengths("input_ids").tolist() == [len(f["input_ids"]) for f in expected]


def test_odd_values_missing_keys_and_pickling(tmp_path: Path) -> None:
    features = [
        {"ids": [1, 2], "pairs": [(0, 1), (1, 3)], "flag": True, "score": 0.1, "big": 2**70, "nested": {"a": [1]}},
        {"ids": [], "pairs": [], "flag": False, "score": -2.5, "big": 3, "nested": {}},
        {"example_id": 7},
    ]
    view = MappedFeatures(stored(features, tmp_path), "key")
    assert strictly_equal(list(view), feature_cache.normalised(features))
    view[0]["nested"]["a"].append(2)  # a caller's change stays its own
    assert view[0]["nested"] == {"a": [1]}
    assert strictly_equal(list(pickle.loads(pickle.dumps(view))), list(view))  # what a loader worker gets
    with pytest.raises(IndexError):
        view[3]


def test_damaged_or_foreign_files_are_refused(tmp_path: Path) -> None:
    for what, content in damaged_stores(tmp_path).items():
        path = tmp_path / "store.safetensors"
        path.write_bytes(content)
        with pytest.raises(feature_cache.CacheFormatError):
            MappedFeatures(path, "key")
            pytest.fail(what)


def test_rows_stay_on_disk(tmp_path: Path) -> None:
    features = [
        {"input_ids": list(range(i % 50, i % 50 + 40)), "labels": i % 2, "example_id": i} for i in range(20_000)
    ]
    path = stored(features, tmp_path)
    del features

    def peak(load: Any) -> int:
        tracemalloc.start()
        try:
            kept = load()
            return tracemalloc.get_traced_memory()[1] if kept is not None else 0
        finally:
            tracemalloc.stop()

    loaded = peak(lambda: feature_cache.load_features(path, "key"))
    mapped = peak(lambda: MappedFeatures(path, "key"))
    assert mapped < loaded / 20, (mapped, loaded)  # the offsets (4 bytes a row), not the rows


def test_token_columns_of_equal_lengths_share_one_index(tmp_path: Path) -> None:
    """A pre-training feature has five token lists of one length: the view keeps one row
    index for them (4 bytes a row), not one per list."""
    rows = 20_000
    features = [
        {key: [i % 3] * (i % 50 + 2) for key in ("input_ids", "token_type_ids", "attention_mask", "mask", "starts")}
        | {"labels": [1] * (i % 7), "example_id": i}
        for i in range(rows)
    ]
    path = stored(features, tmp_path)
    tracemalloc.start()
    try:
        view = MappedFeatures(path, "key")
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert 2 * 4 * rows <= held < 2 * 4 * rows + 20_000, held  # two indexes: the token lists' and the labels'
    assert strictly_equal(view[rows - 1], feature_cache.normalised(features[-1]))
    assert view.lengths("labels").tolist() == [i % 7 for i in range(rows)]
