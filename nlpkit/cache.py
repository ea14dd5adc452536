"""The feature cache on disk: where it lives, what it holds (``nlpkit cache info``) and
emptying it (``nlpkit cache clear``).

The cache is one folder, ``features/`` under ``data.cache_dir``, ``$NLPKIT_CACHE`` or
``~/.cache/nlpkit``, with one store per encoded split, named
``<task>-<split>-<key>.safetensors`` (:mod:`nlpkit.feature_cache` is its format), and one
folder of shards per streamed split, ``<task>-<split>-<key>.shards`` (:mod:`nlpkit.shards`).
Only files and folders of those names are nlpkit's: clearing removes those (and the pickles of format 1,
``.pkl``, which no version reads any more) and leaves anything else in the folder, and the
partial files of writes under way, alone.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from nlpkit import feature_cache

FEATURES = "features"
ENVIRONMENT = "NLPKIT_CACHE"
SHARDS = ".shards"
_STORE = re.compile(r"^(?P<task>.+)-(?P<split>[^-]+)-(?P<key>[0-9a-f]{24})\.(?P<suffix>safetensors|pkl|shards)$")


def cache_root(configured: str | os.PathLike[str] | None = None) -> Path:
    """``configured`` (a recipe's ``data.cache_dir``), else ``$NLPKIT_CACHE``, else
    ``~/.cache/nlpkit``."""
    return Path(configured or os.environ.get(ENVIRONMENT) or Path.home() / ".cache" / "nlpkit")


def features_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the feature stores under :func:`cache_root`."""
    return cache_root(configured) / FEATURES


def store_path(folder: Path, task: str, split: str, key: str) -> Path:
    """Where the features of ``split`` encoded for cache key ``key`` are stored."""
    return folder / f"{task}-{split}-{key}{feature_cache.SUFFIX}"


def shards_path(folder: Path, task: str, split: str, key: str) -> Path:
    """The folder of a streamed split's shards (:mod:`nlpkit.shards`) for cache key ``key``."""
    return folder / f"{task}-{split}-{key}{SHARDS}"


@dataclass(frozen=True)
class Entry:
    """One file of the cache folder."""

    path: Path
    size: int
    modified: float
    task: str | None = None
    """None: not a store's name (another program's file, left alone by :func:`clear`)."""
    split: str | None = None
    features: int | None = None
    """How many features it holds; None when it cannot be used (``problem`` says why)."""
    problem: str | None = None

    @property
    def ours(self) -> bool:
        return self.task is not None


def entries(folder: Path) -> list[Entry]:
    """The files of the cache folder by name (none if it does not exist), partial files of
    writes under way left out; each store read as far as its header."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or path.name.startswith("."):
            continue
        match = _STORE.match(path.name)
        if path.is_dir() and (match is None or match["suffix"] != "shards"):
            continue  # not a file, nor a shard folder: nothing nlpkit wrote
        size = _size(path)
        modified = path.stat().st_mtime
        if match is None:
            found.append(Entry(path, size, modified))
            continue
        count, problem = _count(path, match["suffix"])
        found.append(Entry(path, size, modified, match["task"], match["split"], count, problem))
    return found


def _size(path: Path) -> int:
    """Bytes of a file, or of a shard folder's files."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size


def _count(path: Path, suffix: str) -> tuple[int | None, str | None]:
    """How many features a store holds, or why it cannot be used."""
    if suffix == "pkl":
        return None, "a pickle of format 1, never read: loading it could run code"
    try:
        if suffix == "shards":
            from nlpkit.shards import read_index

            return int(read_index(path)["features"]), None
        return feature_cache.stored_count(path), None
    except (OSError, KeyError, ValueError, feature_cache.CacheFormatError) as exc:
        return None, str(exc)


def clear(folder: Path, task: str | None = None) -> list[Entry]:
    """Delete nlpkit's stores in ``folder`` (of ``task`` only, if given); returns them.
    A run that finds its store gone encodes again; one that is writing keeps its
    partial file, and its store appears when it is complete."""
    removed = []
    for entry in entries(folder):
        if entry.ours and (task is None or entry.task == task):
            if entry.path.is_dir():
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                entry.path.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def size_text(n: int) -> str:
    """Bytes for people: ``812 B``, ``1.2 MB``."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"  # pragma: no cover (the loop returns)


def info_lines(folder: Path, found: list[Entry], origin: str) -> list[str]:
    """What ``nlpkit cache info`` prints: the folder, the totals, a row per store."""
    import time

    stores = [e for e in found if e.ours]
    others = [e for e in found if not e.ours]
    lines = [f"feature cache: {folder} ({origin})"]
    total = sum(e.size for e in stores)
    summary = f"{len(stores)} store{'' if len(stores) == 1 else 's'}, {size_text(total)}"
    if others:
        summary += f"; {len(others)} other file{'' if len(others) == 1 else 's'} (not nlpkit's: clear leaves them)"
    lines.append(summary if folder.is_dir() else "empty: the folder does not exist yet")
    if stores:
        lines.append(f"{'task':<16} {'split':<10} {'features':>9} {'size':>9}  {'written':<16}  file")
    for e in stores:
        count = f"{e.features:,}" if e.features is not None else "unusable"
        written = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.modified))
        row = f"{e.task:<16} {e.split:<10} {count:>9} {size_text(e.size):>9}  {written:<16}  {e.path.name}"
        lines.append(row + (f" ({e.problem})" if e.problem else ""))
    return lines


def info_json(folder: Path, found: list[Entry]) -> dict[str, object]:
    """``nlpkit cache info --json``: the same, for programs."""
    def entry(e: Entry) -> dict[str, object]:
        return {"file": e.path.name, "task": e.task, "split": e.split, "features": e.features, "bytes": e.size,
                "modified": e.modified, "problem": e.problem}

    return {
        "folder": str(folder),
        "bytes": sum(e.size for e in found if e.ours),
        "stores": [entry(e) for e in found if e.ours],
        "other_files": [e.path.name for e in found if not e.ours],
    }
