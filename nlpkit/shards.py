"""A split encoded as it streams in: features written shard by shard, read back in place.

A task whose examples may not fit in memory (a pre-training corpus) gives the core an
iterable of them (:meth:`nlpkit.task.Task.stream`). :func:`encode_stream` reads it a
chunk of examples at a time, encodes each chunk with the task's ``encode`` (the same
chunks and example ids as :func:`nlpkit.data.encode` of the whole list, so the same
features) and writes the features into shards: feature stores of
:mod:`nlpkit.feature_cache`, each of up to :data:`SHARD_FEATURES` features, in one
folder with an ``index.json`` that lists them. Only one chunk's and one shard's
features are in memory at a time.

The folder is written under a partial name and renamed into place when complete: a
reader finds the whole store or none (a crash leaves only the partial folder). Processes
that need the same key at once (the ranks of a distributed run started by ``torchrun``
or SLURM, two runs) take turns through :func:`one_writer`: the first encodes, the others
wait and read its shards. Where the file system has no locks they all write; the first
rename wins, and the others read the winner's shards and delete their own.

:class:`ShardedFeatures` is the sequence of all the shards' features, each shard a
:class:`~nlpkit.feature_view.MappedFeatures`: rows stay in the memory-mapped files until
a batch asks for them, so the training loop, its samplers and a distributed sampler see
one indexable split of any size.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Sequence

import numpy as np

from nlpkit import feature_cache
from nlpkit.feature_view import MappedFeatures
from nlpkit.task import Counts, Feature, Task

log = logging.getLogger("nlpkit")

SHARD_FEATURES = 16_384
"""Features per shard: with 128-token sequences about 12 MB a shard, small enough that a
shard's features are cheap to hold while it is written."""
INDEX = "index.json"
FORMAT = "nlpkit-feature-shards"


class StreamedExamples:
    """A split's examples read lazily, again on each iteration of ``source``; its length is
    known once the split has been encoded (:func:`encode_stream` counts it), and counted
    by one more pass if asked for earlier."""

    def __init__(self, source: Iterable[Any]) -> None:
        self.source = source
        self.count: int | None = None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.source)

    def __len__(self) -> int:
        if self.count is None:
            self.count = sum(1 for _ in self)
        return self.count


class ShardedFeatures(Sequence[Feature]):
    """The features of the shard folder at ``path`` written for cache key ``key``.
    Raises :class:`~nlpkit.feature_cache.CacheFormatError` for a folder that is not such
    a store (an index of another key or format, a shard missing or damaged)."""

    def __init__(self, path: str | Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        index = read_index(self.path)
        if index.get("key") != key:
            raise feature_cache.CacheFormatError(f"shards of key {index.get('key')}")
        self.examples = int(index["examples"])
        self.shards = [MappedFeatures(self.path / shard["file"], key) for shard in index["shards"]]
        counts = [len(shard) for shard in self.shards]
        if counts != [int(shard["count"]) for shard in index["shards"]]:
            raise feature_cache.CacheFormatError("a shard holds another count of features than its index says")
        self.starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).tolist()

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, index: Any) -> Any:  # a feature, or a list of them for a slice
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"feature {index} of {len(self)}")
        index %= len(self)
        shard = bisect.bisect_right(self.starts, index) - 1
        return self.shards[shard][index - self.starts[shard]]

    def __iter__(self) -> Iterator[Feature]:
        for shard in self.shards:
            yield from shard

    def lengths(self, key: str) -> np.ndarray:
        """Every feature's ``key`` length (int64), from the shards' offsets (no row is read)."""
        return np.concatenate([shard.lengths(key) for shard in self.shards] or [np.zeros(0, np.int64)])

    def __reduce__(self) -> tuple[Any, tuple[Path, str]]:
        return ShardedFeatures, (self.path, self.key)


def read_index(path: Path) -> dict[str, Any]:
    """The checked ``index.json`` of a shard folder."""
    try:
        index = json.loads((path / INDEX).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise feature_cache.CacheFormatError(f"no readable {INDEX} ({exc})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("version") != feature_cache.VERSION:
        raise feature_cache.CacheFormatError(f"not a shard folder of format {FORMAT} {feature_cache.VERSION}")
    shards = index.get("shards")
    if not isinstance(shards, list) or not all(
        isinstance(s, dict) and _plain_name(s.get("file")) and str(s.get("count", "")).isdigit() for s in shards
    ):
        raise feature_cache.CacheFormatError(f"malformed {INDEX}")
    return index


def _plain_name(name: Any) -> bool:
    """A file name inside the folder: never a path that leads out of it."""
    return isinstance(name, str) and name == Path(name).name and not name.startswith(".")


@contextmanager
def one_writer(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s key while its shards are looked for and, if
    missing, encoded: a second process waits (and says so), then finds them published.

    The lock is ``flock`` on a hidden file beside the folder, dropped by the OS however
    its holder ends; the holder deletes the file when done, and a waiter that finds the
    file it locked deleted takes the new one, so that one process at a time holds the key.
    """
    lock = path.with_name(f".{path.name}.lock")
    handle = _lock(lock, path.name)
    if handle is None:
        yield
        return
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        lock.unlink(missing_ok=True)
        handle.close()  # closing drops the lock


def _lock(lock: Path, name: str) -> IO[str] | None:
    """``lock`` opened and locked, after waiting for its holder; None where the system or
    the file system has no locks (then every process encodes; the first rename wins)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = lock.open("a+", encoding="utf-8")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                log.info("%s: %s is encoding these shards; waiting for it", name, holder)
                fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            handle.close()
            log.warning("cannot lock %s (%s): processes that start together each encode the corpus", lock, exc)
            return None
        try:
            current = os.stat(lock).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return handle
        handle.close()  # its holder deleted it when done: lock the file there now


def encode_stream(
    task: Task, examples: Iterable[Any], tokenizer: Any, path: Path, key: str, *, training: bool, split: str, chunk: int
) -> int:
    """Encode ``examples`` ``chunk`` at a time into a shard folder published at ``path``;
    returns how many examples were read. Counts are logged as by :func:`nlpkit.data.encode`."""
    from tqdm.auto import tqdm

    from nlpkit.rundir import clean_partials, partial_path

    path.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(path.parent, path.name)  # left by runs that were killed
    partial = partial_path(path)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    writer, counts, total = _ShardWriter(partial, key), Counts(), 0
    try:
        with tqdm(desc=f"tokenizing {split} (streaming)", unit=" examples", unit_scale=True) as progress:
            for part in _chunks(examples, chunk):
                features = task.encode(part, tokenizer, training=training, counts=counts)
                for feature in features:
                    feature["example_id"] += total
                writer.add(features)
                total += len(part)
                progress.update(len(part))
        writer.close(total)
        _publish(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    counts.log(total, f"data.{split}: ", log)
    return total


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _ShardWriter:
    """Buffers features and writes a shard each time :data:`SHARD_FEATURES` are in."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self.key = folder, key
        self.buffer: list[Feature] = []
        self.shards: list[dict[str, Any]] = []

    def add(self, features: list[Feature]) -> None:
        self.buffer.extend(features)
        while len(self.buffer) >= SHARD_FEATURES:
            self._write(self.buffer[:SHARD_FEATURES])
            del self.buffer[:SHARD_FEATURES]

    def _write(self, features: list[Feature]) -> None:
        name = f"{len(self.shards):05d}{feature_cache.SUFFIX}"
        feature_cache.save_features(self.folder / name, features, self.key)
        self.shards.append({"file": name, "count": len(features)})

    def close(self, examples: int) -> None:
        if self.buffer:
            self._write(self.buffer)
            self.buffer = []
        index = {"format": FORMAT, "version": feature_cache.VERSION, "key": self.key, "examples": examples,
                 "features": sum(s["count"] for s in self.shards), "shards": self.shards}
        (self.folder / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")


def _publish(partial: Path, path: Path) -> None:
    """Rename the complete folder into place; where another run was first, keep its."""
    try:
        partial.rename(path)
    except OSError:
        if not path.is_dir():
            raise
        log.info("%s was written by another run meanwhile: using it", path)
