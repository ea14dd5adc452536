"""The feature cache stores data only: a planted file never runs code, every built-in
task's features come back exactly, and a damaged file is encoded again."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nlpkit
from nlpkit import feature_cache
from nlpkit.data import cache_dir, encode, encode_split, read_splits, tokenizer_fingerprint
from nlpkit.encoder import load_tokenizer
from nlpkit.plugins import get_task
from nlpkit.recipe import load_recipe
from nlpkit.task import TaskSettings
from tests.ner.conftest import toy_sentences, write_conll
from tests.pair.conftest import write_pairs_tsv, write_ratings_jsonl
from tests.pretrain.conftest import wikitext
from tests.qa.conftest import make_rows, squad_json


class Planted:
    """A pickle that creates ``marker`` when it is loaded: what an attacker would plant."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


def prepared(recipe_dict: dict[str, Any]) -> tuple[Any, Any, dict[str, Any], Any]:
    """Recipe, task, splits and tokenizer as a run prepares them before encoding."""
    recipe = load_recipe(recipe_dict)
    task = get_task(recipe.task)(TaskSettings.of(recipe))
    splits = read_splits(task, recipe)
    task.setup(splits["train"].examples)
    return recipe, task, splits, load_tokenizer(recipe.encoder, texts=task.texts(splits["train"].examples))


def pickle_path_of_format_1(task: Any, split: Any, tokenizer: Any, recipe: Any) -> Path:
    """Where the pickle-based cache (format 1) read a split's features from."""
    parts = {
        "file": hashlib.sha256(Path(split.path).read_bytes()).hexdigest(),
        "split": split.name,
        "n": len(split.examples),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "task": task.name,
        "settings": task.cache_settings(),
        "format": 1,
    }
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return cache_dir(recipe) / f"{task.name}-{split.name}-{key}.pkl"


def run_log(result: nlpkit.RunResult) -> str:
    return (result.run_dir / "train.log").read_text(encoding="utf-8")


def scores(result: nlpkit.RunResult) -> dict[str, Any]:
    """The metrics of each split (not the timings of training)."""
    return {split: metrics for split, metrics in result.metrics.items() if split != "training"}


def test_a_planted_pickle_never_runs(classification_recipe: dict, tmp_path: Path) -> None:
    from nlpkit.data import cache_key

    marker = tmp_path / "pwned"
    recipe_dict = {**classification_recipe, "data": {**classification_recipe["data"], "cache_dir": str(tmp_path / "c")}}
    recipe_dict["train"] = {**recipe_dict["train"], "epochs": 1}
    recipe, task, splits, tokenizer = prepared(recipe_dict)
    payload = pickle.dumps(Planted(marker))
    planted = []
    for split in splits.values():
        new = cache_dir(recipe) / f"{task.name}-{split.name}-{cache_key(task, split, tokenizer)}.safetensors"
        planted += [pickle_path_of_format_1(task, split, tokenizer, recipe), new]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)

    first = nlpkit.run(recipe_dict, overwrite=True)
    assert run_log(first).count("ignoring feature cache") == 3  # each planted store, then encoded again
    second = nlpkit.run(recipe_dict, overwrite=True)
    assert not marker.exists()
    assert run_log(second).count("features from cache") == 3  # and replaced by real ones
    assert scores(second) == scores(first) and scores(first)


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (True is not 1 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(strictly_equal, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    return a == b


def roundtrip(features: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "store.safetensors"
    feature_cache.save_features(path, features, "key")
    loaded = feature_cache.load_features(path, "key")
    assert strictly_equal(loaded, feature_cache.normalised(features))
    return loaded


def family_recipes(encoder: Path, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """One small recipe per built-in task family (and the head variants whose features differ)."""
    tiny = {"name": str(encoder), "max_length": 24}
    qa_train, qa_dev = tmp_path / "qa-train.json", tmp_path / "qa-dev.json"
    qa_train.write_text(json.dumps(squad_json(make_rows(12))))
    qa_dev.write_text(json.dumps(squad_json(make_rows(4, offset=1))))
    corpus = tmp_path / "wiki.raw"
    corpus.write_bytes(wikitext().encode())
    sentiment = tmp_path / "sentiment.tsv"
    sentiment.write_text("".join(f"{t}\t{i % 2}\n" for i, t in enumerate(["a great fun movie", "awful and dull"] * 6)))
    multi = tmp_path / "multi.jsonl"
    multi.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in [("fun", ["a"]), ("dull", ["a", "b"])] * 4))
    return {
        "classification": {"data": {"train": str(sentiment), "validation": str(sentiment)}},
        "multi-label": {"data": {"train": str(multi)}, "head": {"multi_label": True}},
        "ner": {"task": "ner", "data": {
            "train": str(write_conll(tmp_path / "ner.txt", toy_sentences(12))),
            "validation": str(write_conll(tmp_path / "ner-dev.txt", toy_sentences(4, offset=12))),
            "window_overlap": 2}, "encoder": {**tiny, "max_length": 10}},
        "qa": {"task": "qa", "data": {"train": str(qa_train), "validation": str(qa_dev), "window_overlap": 4,
                                      "max_question_length": 10}, "encoder": {**tiny, "max_length": 32}},
        "pair": {"task": "pair", "data": {"train": str(write_pairs_tsv(tmp_path / "pairs.tsv", 12, seed=1))}},
        "sentiment": {"task": "sentiment", "data": {"train": str(write_ratings_jsonl(tmp_path / "r.jsonl", 12, seed=1))},
                      "head": {"type": "regression", "range": [1, 5]}},
        "nsp": {"task": "nsp", "data": {"train": str(corpus), "validation_documents": 2}},
        "pretrain": {"task": "pretrain", "data": {"train": str(corpus), "validation_documents": 2}},
    }


FAMILIES = ["classification", "multi-label", "ner", "qa", "pair", "sentiment", "nsp", "pretrain"]


def encoded_splits(family: str, encoder: Path, tmp_path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """(split, features) of each split of a family's small recipe, encoded as a run does."""
    sections = family_recipes(encoder, tmp_path)[family]
    recipe_dict = {"task": "classification", "encoder": {"name": str(encoder), "max_length": 24}, **sections}
    _, task, splits, tokenizer = prepared(recipe_dict)
    return [(name, encode(task, split.examples, tokenizer, training=name == "train")) for name, split in splits.items()]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_task_family_comes_back_exactly(family: str, tiny_encoder: Path, tmp_path: Path) -> None:
    for name, features in encoded_splits(family, tiny_encoder, tmp_path):
        assert features, name
        roundtrip(features, tmp_path)
        # Built-in features are all arrays (fast to load): no key falls back to JSON.
        from safetensors import safe_open

        with safe_open(str(tmp_path / "store.safetensors"), framework="numpy") as handle:
            kinds = {c["key"]: c["kind"] for c in json.loads(handle.metadata()["columns"])}
        assert "json" not in kinds.values(), kinds
    if family == "qa":
        assert kinds["offsets"] == "rows"


def test_odd_values_come_back_with_their_types(tmp_path: Path) -> None:
    features = [
        {"ids": [1, 2], "pairs": [(0, 1), (1, 3)], "flag": True, "score": 0.1, "big": 2**70, "text": "é\ud800",
         "mixed": [1, True, 1.0], "none": None, "nested": {"a": [(1, "x")]}, "empty": []},
        {"ids": [], "pairs": [], "flag": False, "score": -2.5, "big": 3, "text": "", "mixed": [], "none": None,
         "nested": {}, "empty": []},
        {"example_id": 7},  # every other key missing here
    ]
    loaded = roundtrip(features, tmp_path)
    assert loaded[0]["pairs"] == [[0, 1], [1, 3]] and loaded[0]["mixed"][1] is True
    assert loaded[2] == {"example_id": 7} and roundtrip([], tmp_path) == []


@pytest.mark.parametrize("value", [np.arange(3), [np.int64(1)], {1: "x"}, object()])
def test_values_that_cannot_come_back_exactly_are_refused(value: Any, tmp_path: Path) -> None:
    with pytest.raises(feature_cache.UnstorableFeatures, match="feature key 'x' holds"):
        feature_cache.save_features(tmp_path / "store.safetensors", [{"x": value}], "key")


def damaged_stores(tmp_path: Path) -> dict[str, bytes]:
    good = tmp_path / "good.safetensors"
    feature_cache.save_features(good, [{"input_ids": [1, 2, 3], "example_id": 0}], "key")
    other = tmp_path / "other.safetensors"
    feature_cache.save_features(other, [{"input_ids": [1, 2, 3], "example_id": 0}], "another key")
    from safetensors.numpy import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": np.zeros(3, dtype=np.float32)}, str(foreign))
    raw = good.read_bytes()
    lying = raw.replace(b'"count":"1"', b'"count":"2"')
    return {
        "truncated": raw[: len(raw) - 5],
        "random bytes": bytes(range(256)) * 4,
        "empty": b"",
        "another key": other.read_bytes(),
        "model weights": foreign.read_bytes(),
        "a wrong count": lying,
        "a pickle": pickle.dumps([{"input_ids": [1]}]),
    }


def test_damaged_or_foreign_files_are_refused(tmp_path: Path) -> None:
    for what, content in damaged_stores(tmp_path).items():
        path = tmp_path / "store.safetensors"
        path.write_bytes(content)
        with pytest.raises(feature_cache.CacheFormatError):
            feature_cache.load_features(path, "key")
            pytest.fail(what)


def test_a_damaged_store_is_reported_and_encoded_again(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path / "cache"))
    recipe, task, splits, tokenizer = prepared(classification_recipe)
    split = splits["train"]
    encode_split(task, split, tokenizer, recipe)
    expected = list(split.features)  # a copy: the features are read from the store (in place)
    (path,) = cache_dir(recipe).glob(f"{task.name}-train-*.safetensors")
    path.write_bytes(path.read_bytes()[:-7])
    with caplog.at_level(logging.INFO, logger="nlpkit"):
        encode_split(task, split, tokenizer, recipe)
    assert f"ignoring feature cache {path} (" in caplog.text and "; encoding again" in caplog.text
    assert list(split.features) == expected
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nlpkit"):
        encode_split(task, split, tokenizer, recipe)  # the damaged file was replaced
    assert "features from cache" in caplog.text and list(split.features) == expected


def test_features_it_cannot_store_are_used_uncached(
    classification_recipe: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path / "cache"))
    recipe, task, splits, tokenizer = prepared(classification_recipe)
    original = task.encode

    def with_arrays(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return [{**f, "extra": np.zeros(2)} for f in original(*args, **kwargs)]

    monkeypatch.setattr(task, "encode", with_arrays)
    with caplog.at_level(logging.WARNING, logger="nlpkit"):
        encode_split(task, splits["train"], tokenizer, recipe)
    assert "data.train: features not cached: feature key 'extra' holds a numpy.ndarray value" in caplog.text
    assert len(splits["train"].features) == 48 and not list(cache_dir(recipe).glob("*train*"))


def test_a_warm_cache_scores_as_no_cache(tiny_encoder: Path, tmp_path: Path) -> None:
    """QA decodes answers from the cached character offsets: the metrics must not move."""
    train, dev = tmp_path / "train.json", tmp_path / "dev.json"
    train.write_text(json.dumps(squad_json(make_rows(16))))
    dev.write_text(json.dumps(squad_json(make_rows(8, offset=1))))
    recipe_dict = {
        "task": "qa",
        "encoder": {"name": str(tiny_encoder), "max_length": 32},
        "data": {"train": str(train), "validation": str(dev), "window_overlap": 4, "max_question_length": 10,
                 "cache_dir": str(tmp_path / "cache")},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "precision": "32", "seed": 3},
        "output": {"dir": str(tmp_path / "run"), "report": False},
    }
    uncached = nlpkit.run({**recipe_dict, "data": {**recipe_dict["data"], "cache": False}})
    recipe, task, splits, tokenizer = prepared(recipe_dict)
    for split in splits.values():
        encode_split(task, split, tokenizer, recipe)
    warm = nlpkit.run(recipe_dict, overwrite=True)
    assert run_log(warm).count("features from cache") == 2
    assert scores(warm) == scores(uncached) and scores(warm)
