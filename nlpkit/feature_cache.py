"""The feature cache's file format: one safetensors file per split, holding data only.

The cache lives at a predictable, possibly shared path, so whatever is found there is
read as data and nothing else: a safetensors file is a JSON header plus raw arrays, and
reading it never runs code (unlike pickle). Features are stored column by column:

- a key whose values are all ints, all bools or all floats: one array (ints in the
  narrowest integer type that holds them);
- lists of one such type: one flat array plus the length of each list;
- lists of equal-width rows of one such type (QA ``offsets``: pairs): an ``(m, width)``
  array plus the number of rows of each list;
- anything else (strings, None, mixed types, deeper nesting, dicts): JSON text, stored
  as a byte array in the same file;
- a key missing from some features: a presence mask besides its values.

:func:`load_features` gives back exactly :func:`normalised` of what :func:`save_features`
was given: equal values of the same types (int stays int, bool stays bool), with tuples
turned into lists at every depth and each dict's keys in the order of the columns (the
order in which keys first appear). Values that cannot come back exactly (numpy arrays,
int subclasses, dicts with non-string keys...) raise :class:`UnstorableFeatures`
before anything is written.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from nlpkit.task import Feature

FORMAT = "nlpkit-features"
VERSION = "2"  # 1 was a pickle (never read again)
SUFFIX = ".safetensors"

_DTYPES: dict[type, Any] = {int: np.int64, bool: np.bool_, float: np.float64}
_NAMES = {int: "int64", bool: "bool", float: "float64"}
_INTS = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
_STORED = {"int64": _INTS, "bool": (np.dtype(np.bool_),), "float64": (np.dtype(np.float64),)}
"""The array types that may hold each logical type: ints in the narrowest that fits."""
_JSON_LEAVES = (type(None), bool, int, float, str)


class CacheFormatError(Exception):
    """A file at a cache path is not a feature store this version wrote for that key."""


class UnstorableFeatures(ValueError):
    """Features hold a value the store could not give back exactly."""


def normalised(value: Any) -> Any:
    """``value`` with tuples turned into lists at every depth: what a load gives back."""
    if isinstance(value, (list, tuple)):
        return [normalised(v) for v in value]
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    return value


# -- writing -----------------------------------------------------------------------
def save_features(path: Path, features: Sequence[Feature], key: str) -> None:
    """Write ``features`` to ``path`` (the caller makes the write atomic)."""
    from safetensors.numpy import save_file

    keys: dict[str, None] = {}
    for feature in features:
        keys.update(dict.fromkeys(feature))
    columns, tensors = [], {}
    for index, name in enumerate(keys):
        if type(name) is not str:
            raise UnstorableFeatures(f"a feature key is {type(name).__name__} {name!r}, not a string")
        present = [name in f for f in features]
        values = [f[name] for f in features if name in f]
        spec, arrays = _column(name, values)
        if not all(present):
            arrays["present"] = np.array(present, dtype=np.bool_)
        columns.append({"key": name, **spec})
        tensors.update({f"{index}.{part}": array for part, array in arrays.items()})
    metadata = {"format": FORMAT, "version": VERSION, "key": key, "count": str(len(features))}
    save_file(tensors, str(path), metadata={**metadata, "columns": json.dumps(columns)})


def _column(name: str, values: list[Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The spec and arrays of one key's values: the first layout that holds them exactly."""
    types = set(map(type, values))
    try:
        if len(types) == 1 and (kind := next(iter(types))) in _DTYPES:
            return {"kind": "scalar", "dtype": _NAMES[kind]}, {"values": _array(values, kind)}
        if types <= {list, tuple}:
            found = _sequences(values)
            if found is not None:
                return found
    except OverflowError:  # an int outside int64: JSON keeps it whole
        pass
    for value in values:
        if not _jsonable(value):
            raise UnstorableFeatures(
                f"feature key {name!r} holds {_describe(value)}, which the cache cannot store exactly"
            )
    text = json.dumps(values, ensure_ascii=True)  # ASCII: lone surrogates survive too
    return {"kind": "json"}, {"json": np.frombuffer(text.encode("ascii"), dtype=np.uint8)}


def _sequences(values: list[Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """Lists of scalars of one type, or of equal-width rows of them; None otherwise."""
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    flat = list(chain.from_iterable(values))
    inner = set(map(type, flat))
    if len(inner) <= 1 and inner <= _DTYPES.keys():
        kind = next(iter(inner), int)
        spec = {"kind": "list", "dtype": _NAMES[kind]}
        return spec, {"values": _array(flat, kind), "lengths": lengths}
    if not inner <= {list, tuple}:
        return None
    widths = set(map(len, flat))
    cells = set(map(type, chain.from_iterable(flat)))
    if len(widths) != 1 or len(cells) > 1 or not cells <= _DTYPES.keys():
        return None
    kind, width = next(iter(cells), int), widths.pop()
    array = _array(flat, kind).reshape(len(flat), width)
    return {"kind": "rows", "dtype": _NAMES[kind], "width": width}, {"values": array, "lengths": lengths}


def _array(values: list[Any], kind: type) -> np.ndarray:
    """``values`` as an array; ints in the narrowest type that holds them (masks: 1 byte)."""
    array = np.array(values, dtype=_DTYPES[kind])
    if kind is int and array.size:
        low, high = array.min(), array.max()
        narrow = next(t for t in _INTS if np.iinfo(t).min <= low and high <= np.iinfo(t).max)
        array = array.astype(narrow)
    return array


def _jsonable(value: Any) -> bool:
    """Whether JSON gives ``normalised(value)`` back with the same types."""
    if type(value) in _JSON_LEAVES:
        return True
    if type(value) in (list, tuple):
        return all(_jsonable(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _jsonable(v) for k, v in value.items())
    return False


def _describe(value: Any) -> str:
    """The first value inside ``value`` that JSON cannot carry, for the message."""
    if type(value) in (list, tuple):
        return next((_describe(v) for v in value if not _jsonable(v)), "a list")
    if type(value) is dict:
        bad_key = next((k for k in value if type(k) is not str), None)
        if bad_key is not None:
            return f"a dict with a {type(bad_key).__name__} key {bad_key!r}"
        return next((_describe(v) for v in value.values() if not _jsonable(v)), "a dict")
    return f"a {type(value).__module__}.{type(value).__qualname__} value"


# -- reading -----------------------------------------------------------------------
def load_features(path: Path, key: str) -> list[Feature]:
    """The features stored at ``path`` for cache key ``key``.

    Raises :class:`CacheFormatError` for anything else found there (a truncated or
    foreign file, an old pickle renamed, another key's store), and OSError when the file
    cannot be read at all."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle, _gc_paused():
            count, columns = read_header(handle.metadata(), key)
            parts: dict[str, dict[str, str]] = {}
            for tensor in handle.keys():  # "<column index>.<part>"
                column, _, part = tensor.partition(".")
                parts.setdefault(column, {})[part] = tensor
            features: list[Feature] = [{} for _ in range(count)]
            for index, spec in enumerate(columns):
                arrays = {part: handle.get_tensor(tensor) for part, tensor in parts.get(str(index), {}).items()}
                _fill(features, spec, arrays)
    except SafetensorError as exc:
        raise CacheFormatError(f"not a safetensors file ({exc})") from None
    except (KeyError, TypeError, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise CacheFormatError(f"malformed feature store ({type(exc).__name__}: {exc})") from None
    return features


def stored_count(path: Path) -> int:
    """How many features the store at ``path`` holds, from its header alone (no array is
    read); :class:`CacheFormatError` for a file that is not a store of this version."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata()
    except SafetensorError as exc:
        raise CacheFormatError(f"not a safetensors file ({exc})") from None
    if not metadata or metadata.get("format") != FORMAT:
        raise CacheFormatError("not an nlpkit feature store")
    if metadata.get("version") != VERSION or not metadata.get("count", "").isdigit():
        raise CacheFormatError(f"a store of format {metadata.get('version')}")
    return int(metadata["count"])


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hundreds of thousands of small lists (QA offsets) are made at once: the cyclic
    garbage collector would scan them again and again (load time x3); none can form a
    cycle, so it waits until they are all made."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_header(metadata: dict[str, str] | None, key: str) -> tuple[int, list[dict[str, Any]]]:
    """The feature count and column specs of a store's header, checked: written by this
    version, for ``key``."""
    if not metadata or metadata.get("format") != FORMAT:
        raise CacheFormatError("not an nlpkit feature store")
    if metadata.get("version") != VERSION or metadata.get("key") != key:
        raise CacheFormatError(f"a store of format {metadata.get('version')} for key {metadata.get('key')}")
    count, columns = int(metadata["count"]), json.loads(metadata["columns"])
    if count < 0 or not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
        raise CacheFormatError("malformed header")
    if len({c.get("key") for c in columns}) != len(columns):
        raise CacheFormatError("a key stored twice")
    return count, columns


def _fill(features: list[Feature], spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Put one column's values into ``features``, checking every shape it relies on."""
    name = spec["key"]
    if type(name) is not str:
        raise CacheFormatError("a column without a string key")
    present = arrays.get("present")
    if present is None:
        rows = range(len(features))
    else:
        _expect(present, (np.dtype(np.bool_),), (len(features),), name)
        rows = np.flatnonzero(present).tolist()
    values = values_of(spec, arrays, len(rows))
    for row, value in zip(rows, values):
        features[row][name] = value


def stored_dtypes(name: Any) -> tuple[np.dtype, ...]:
    """The array types that may hold a column of logical type ``name`` ("int64"...)."""
    if name not in _STORED:
        raise CacheFormatError(f"unknown column type {name!r}")
    return _STORED[name]


def values_of(spec: dict[str, Any], arrays: dict[str, np.ndarray], count: int) -> list[Any]:
    """The ``count`` values of one column from its arrays, every shape checked."""
    kind, name = spec["kind"], spec["key"]
    if kind == "json":
        text = arrays["json"]
        _expect(text, (np.dtype(np.uint8),), (text.size,), name)
        values = json.loads(text.tobytes().decode("ascii"))
        if not isinstance(values, list) or len(values) != count:
            raise CacheFormatError(f"{name}: expected {count} values")
        return values
    dtype, values = stored_dtypes(spec["dtype"]), arrays["values"]
    if kind == "scalar":
        _expect(values, dtype, (count,), name)
        return values.tolist()
    lengths = arrays["lengths"]
    _expect(lengths, (np.dtype(np.int64),), (count,), name)
    if (lengths < 0).any():
        raise CacheFormatError(f"{name}: negative lengths")
    total = int(lengths.sum())
    if kind == "list":
        _expect(values, dtype, (total,), name)
    elif kind == "rows":
        _expect(values, dtype, (total, int(spec["width"])), name)
    else:
        raise CacheFormatError(f"{name}: unknown column kind {kind!r}")
    flat, ends = values.tolist(), np.cumsum(lengths).tolist()
    return [flat[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def _expect(array: np.ndarray, dtypes: tuple[np.dtype, ...], shape: tuple[int, ...], name: str) -> None:
    if array.dtype not in dtypes or array.shape != shape:
        expected = "/".join(t.name for t in dtypes)
        raise CacheFormatError(f"{name}: expected {expected} {shape}, found {array.dtype.name} {array.shape}")
