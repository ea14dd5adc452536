"""A feature store read in place: :class:`MappedFeatures` is the sequence of a split's
features whose rows stay in the memory-mapped store until a batch asks for them.

A store (:mod:`nlpkit.feature_cache`) keeps each key's values as a few flat arrays; the
view has safetensors check the file (its header, every array's place and size), maps
the file into memory read-only with numpy, checks every array's type and shape against
the header as :func:`~nlpkit.feature_cache.load_features` does, and keeps in RAM only
what finding a row needs: the row offsets of the list columns (4 bytes a feature, shared
by the columns whose rows have equal lengths) and the presence masks of keys that some
features lack. ``view[i]`` reads row ``i``'s slices and gives the same dict
``load_features`` would, so the tasks, the samplers and the loaders see a sequence like
any other. The operating system pages the arrays in and out: a split's features need
not fit in memory.

A store replaced while a view is open (another run writing the same key) or deleted
(``nlpkit cache clear``) stays readable through the view: the mapped file lives on
until the view is closed. A view is pickled as its path and key (DataLoader workers
open their own).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence, overload

import numpy as np

from nlpkit.feature_cache import CacheFormatError, normalised, read_header, stored_dtypes, values_of
from nlpkit.task import Feature

_SAFETENSORS_DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "F64": np.float64,
}


class MappedFeatures(Sequence[Feature]):
    """The features of the store at ``path`` written for cache key ``key``, row by row.
    Raises :class:`~nlpkit.feature_cache.CacheFormatError` for a file that is not such a
    store (damaged, foreign, another key's), and OSError when it cannot be read."""

    def __init__(self, path: str | Path, key: str) -> None:
        self.path = Path(path)
        self.key = key
        self._open()

    def _open(self) -> None:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(self.path), framework="numpy") as handle:  # checks the file's header and sizes
                self._count, specs = read_header(handle.metadata(), self.key)
            parts: dict[str, dict[str, Any]] = {}
            for tensor, array in _mapped_arrays(self.path).items():  # "<column index>.<part>"
                column, _, part = tensor.partition(".")
                parts.setdefault(column, {})[part] = array
            self._columns = [_Column(spec, parts.get(str(i), {}), self._count) for i, spec in enumerate(specs)]
            _share_offsets(self._columns)
        except SafetensorError as exc:
            raise CacheFormatError(f"not a safetensors file ({exc})") from None
        except (KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError) as exc:
            raise CacheFormatError(f"malformed feature store ({type(exc).__name__}: {exc})") from None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Feature: ...
    @overload
    def __getitem__(self, index: slice) -> list[Feature]: ...
    def __getitem__(self, index: int | slice) -> Feature | list[Feature]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(f"feature {index} of {self._count}")
        row = index % self._count
        feature: Feature = {}
        for column in self._columns:
            column.put(feature, row)
        return feature

    def __iter__(self) -> Iterator[Feature]:
        return (self[i] for i in range(self._count))

    def lengths(self, key: str) -> np.ndarray:
        """The length of every feature's ``key`` list (int64), from the offsets alone (the
        samplers group batches by ``input_ids`` length without reading a row)."""
        column = next((c for c in self._columns if c.name == key), None)
        if column is None or column.offsets is None or column.mask is not None:
            return np.fromiter((len(feature[key]) for feature in self), dtype=np.int64, count=self._count)
        return np.diff(column.offsets).astype(np.int64)

    def __reduce__(self) -> tuple[Any, tuple[Path, str]]:
        return MappedFeatures, (self.path, self.key)


class _Column:
    """One key of the store: where each row's value lies, read on demand."""

    def __init__(self, spec: dict[str, Any], slices: dict[str, np.ndarray], count: int) -> None:
        name = spec["key"]
        if type(name) is not str:
            raise CacheFormatError("a column without a string key")
        self.name, self.kind = name, spec["kind"]
        self.mask: np.ndarray | None = None
        self.rank: np.ndarray | None = None
        self.offsets: np.ndarray | None = None
        self.json: list[Any] | None = None
        rows = count
        if "present" in slices:
            self.mask = _read(slices["present"], (np.dtype(np.bool_),), (count,), name)
            self.rank = np.cumsum(self.mask) - 1  # a row's place among the rows that have the key
            rows = int(self.mask.sum())
        if self.kind == "json":  # not in built-in features: parsed once, kept
            self.json = values_of(spec, {"json": _read(slices["json"], (np.dtype(np.uint8),), None, name)}, rows)
            return
        self.values = slices["values"]
        dtypes = stored_dtypes(spec["dtype"])
        if self.kind == "scalar":
            _check(self.values, dtypes, (rows,), name)
            return
        lengths = _read(slices["lengths"], (np.dtype(np.int64),), (rows,), name)
        if (lengths < 0).any():
            raise CacheFormatError(f"{name}: negative lengths")
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if rows else 0
        # Kept in RAM, one per list column: the narrowest type halves them in any shard
        # of fewer than 4 billion values (all of nlpkit's own).
        dtype = np.uint32 if total <= np.iinfo(np.uint32).max else np.int64
        self.offsets = np.concatenate([np.zeros(1, dtype), ends.astype(dtype)])
        if self.kind == "list":
            _check(self.values, dtypes, (total,), name)
        elif self.kind == "rows":
            _check(self.values, dtypes, (total, int(spec["width"])), name)
        else:
            raise CacheFormatError(f"{name}: unknown column kind {self.kind!r}")

    def put(self, feature: Feature, row: int) -> None:
        """Set this key's value of ``row`` in ``feature`` (if the row has the key)."""
        if self.mask is not None:
            if not self.mask[row]:
                return
            row = int(self.rank[row])  # type: ignore[index]
        if self.json is not None:
            feature[self.name] = normalised(self.json[row])  # a fresh copy: callers may change it
        elif self.offsets is None:
            feature[self.name] = self.values[row].item()
        else:
            start, end = self.offsets[row : row + 2].tolist()
            feature[self.name] = self.values[start:end].tolist()


def _share_offsets(columns: list[_Column]) -> None:
    """One offsets array for the columns whose rows have the same lengths (a pre-training
    feature's five token lists do): a shard's row index costs 4 bytes a row, not 20."""
    kept: list[np.ndarray] = []
    for column in columns:
        if column.offsets is None:
            continue
        same = next((o for o in kept if o.shape == column.offsets.shape and np.array_equal(o, column.offsets)), None)
        if same is None:
            kept.append(column.offsets)
        else:
            column.offsets = same


def _check(part: np.ndarray, dtypes: Sequence[np.dtype], shape: tuple[int, ...], name: str) -> None:
    if part.dtype not in dtypes or part.shape != shape:
        expected = "/".join(t.name for t in dtypes)
        raise CacheFormatError(f"{name}: expected {expected} {shape}, found {part.dtype} {part.shape}")


def _read(part: np.ndarray, dtypes: Sequence[np.dtype], shape: tuple[int, ...] | None, name: str) -> np.ndarray:
    """A whole (small) array of the store, checked and copied into memory; ``shape``
    None: any 1-d length."""
    _check(part, dtypes, shape if shape is not None else part.shape[:1], name)
    return np.array(part)


def _mapped_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a safetensors file (already checked by ``safe_open``) as a numpy
    view of the file mapped read-only: a row is numpy slices of it (8 µs a row of the
    quickstart's store, where safetensors' own slices took 32)."""
    mapped = np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)  # plain arrays slice 3x faster
    size = int(mapped[:8].view("<u8")[0])
    header = json.loads(mapped[8 : 8 + size].tobytes())
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise CacheFormatError(f"{name}: an array of type {info['dtype']}")
        begin, end = (8 + size + int(offset) for offset in info["data_offsets"])
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        arrays[name] = mapped[begin:end].view(dtype).reshape(info["shape"])
    return arrays
