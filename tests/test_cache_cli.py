"""``nlpkit cache info|clear``: where the feature cache is, what it holds, emptying it
without touching what is not nlpkit's (and without ever loading a planted pickle)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nlpkit import feature_cache
from nlpkit.cache import store_path
from nlpkit.cli import main


class Planted:
    """A pickle that creates ``marker`` when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, Path]:
    """A cache root with two stores, a planted pickle under a store's name, another
    program's file and the partial file of a write under way."""
    folder = tmp_path / "root" / "features"
    folder.mkdir(parents=True)
    files = {}
    for task, split, count, key in (("classification", "train", 3, "a" * 24), ("ner", "validation", 2, "b" * 24)):
        files[task] = store_path(folder, task, split, key)
        features = [{"input_ids": [1, 2, i], "example_id": i} for i in range(count)]
        feature_cache.save_features(files[task], features, key)
    files["pickle"] = folder / f"qa-train-{'c' * 24}.pkl"
    files["pickle"].write_bytes(pickle.dumps(Planted(tmp_path / "pwned")))
    files["other"] = folder / "notes.txt"
    files["other"].write_text("mine", encoding="utf-8")
    files["partial"] = folder / f".ner-train-{'d' * 24}.safetensors.partial123-host"
    files["partial"].write_bytes(b"half")
    return files


def test_info_lists_each_store_and_loads_no_pickle(cache: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "root"
    lines = invoke("cache", "info", "--dir", str(root)).stdout.splitlines()
    assert lines[0] == f"feature cache: {root / 'features'} (--dir)"
    stores = sum(cache[k].stat().st_size for k in ("classification", "ner", "pickle"))
    assert lines[1].startswith(f"3 stores, {stores / 1000:.1f} kB; 1 other file")
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert rows["classification"][:3] == ["classification", "train", "3"]
    assert rows["ner"][:3] == ["ner", "validation", "2"]
    assert rows["qa"][2] == "unusable" and "could run code" in " ".join(rows["qa"])
    data = json.loads(invoke("cache", "info", "--dir", str(root), "--json").stdout)
    assert [s["features"] for s in data["stores"]] == [3, 2, None] and data["other_files"] == ["notes.txt"]
    assert not (tmp_path / "pwned").exists()


def test_clear_removes_nlpkits_stores_only(cache: dict[str, Path], tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    assert invoke("cache", "clear", "--dir", root, "--task", "ner").stdout.startswith("removed 1 store (")
    assert not cache["ner"].exists() and cache["classification"].exists()
    assert invoke("cache", "clear", "--dir", root).stdout.startswith("removed 2 stores (")
    assert not cache["classification"].exists() and not cache["pickle"].exists()
    assert cache["other"].read_text(encoding="utf-8") == "mine" and cache["partial"].exists()
    assert not (tmp_path / "pwned").exists()


def test_info_defaults_to_nlpkit_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLPKIT_CACHE", str(tmp_path / "elsewhere"))
    lines = invoke("cache", "info").stdout.splitlines()
    assert lines == [f"feature cache: {tmp_path / 'elsewhere' / 'features'} ($NLPKIT_CACHE)",
                     "empty: the folder does not exist yet"]
