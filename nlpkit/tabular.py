"""Tables: Parquet and Arrow files, ``datasets`` directories (``save_to_disk``) and data
in memory (a ``datasets.Dataset``, a pandas DataFrame, a list of dicts), read as
:class:`~nlpkit.readers.Record` rows of named values for a task's ``read_rows``.

Files are recognised by their content (Parquet's ``PAR1``, Arrow's ``ARROW1`` or the
stream marker of a ``.arrow`` file, a directory with ``state.json`` or
``dataset_dict.json``), never by a recipe's ``data.format``, so a table is never decoded
as text. pyarrow reads the files and ``datasets`` the directories (the ``nlpkit[data]``
extra); both are imported only when a table is read: ``import datasets`` takes seconds.

A row is addressed by its index, as ``dataset[i]`` and ``df.iloc[i]`` do: errors say
``train.parquet[3]``. Columns that a ``datasets`` schema declares as class labels
(``ClassLabel``, or lists of them, as in the Hub's NER sets) are read as their names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping

from nlpkit.errors import DataError, NlpkitError
from nlpkit.columns import rename_columns
from nlpkit.readers import Record

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

TableKind = Literal["parquet", "arrow", "datasets"]
KIND_NAMES: dict[str, str] = {"parquet": "a Parquet file", "arrow": "an Arrow file", "datasets": "a datasets directory"}
TABLE_SUFFIXES: dict[str, TableKind] = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow"}
BATCH_ROWS = 1024
"""Rows turned into Python values at a time: a table is never converted whole."""
INSTALL = "pip install 'nlpkit[data]'"

_PARQUET = b"PAR1"
_ARROW_FILE = b"ARROW1"
_ARROW_STREAM = b"\xff\xff\xff\xff"  # the continuation marker that opens an Arrow IPC stream
_DATASET_FILES = ("state.json", "dataset_dict.json")


def table_kind(path: str | Path) -> TableKind | None:
    """What table ``path`` holds, judged by its content; None for a text file. A file
    named ``.parquet``/``.arrow`` that is not one is an error, not a text."""
    path = Path(path)
    if path.is_dir():
        return "datasets" if any((path / name).is_file() for name in _DATASET_FILES) else None
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    if head.startswith(_PARQUET):
        return "parquet"
    if head.startswith(_ARROW_FILE) or (head.startswith(_ARROW_STREAM) and path.suffix.lower() == ".arrow"):
        return "arrow"
    named = TABLE_SUFFIXES.get(path.suffix.lower())
    if named is not None:
        magic = "'PAR1'" if named == "parquet" else "'ARROW1' or an Arrow stream marker"
        raise DataError(path, None, f"named {path.suffix} but not {KIND_NAMES[named]}: it does not start with {magic}")
    return None


def not_text(kind: TableKind, fmt: str) -> str:
    """What to say of a table named where the recipe's ``data.format`` says text."""
    return (
        f"{KIND_NAMES[kind]}, but data.format is {fmt!r}: tables are recognised by their content; remove "
        "data.format (or set it to auto) to read it as a table"
    )


@dataclass
class Table:
    """Rows of named values from one source; ``batches`` yields them a batch at a time."""

    name: str
    """What messages name: the path, or ``data['train']`` for data in memory."""
    columns: list[str]
    batches: Callable[[], Iterator[list[dict[str, Any]]]]
    digest: Callable[[], str]
    """The content's hash (keys the feature cache)."""
    class_names: dict[str, list[str]] = field(default_factory=dict)
    """Columns of class-label ids (datasets' ``ClassLabel``): the name of each id."""

    def records(self, columns: Mapping[str, str]) -> Iterator[Record]:
        """The rows, ``columns`` (task's name -> the table's) renamed, class ids named."""
        missing = [f"{source!r} (data.columns.{key})" for key, source in columns.items() if source not in self.columns]
        if missing and self.columns:
            raise DataError(self.name, None, f"no column {', '.join(missing)}; columns: {', '.join(self.columns)}")
        index = 0
        for batch in self.batches():
            for row in batch:
                if not isinstance(row, dict):
                    got = _kind(row)
                    raise DataError(f"{self.name}[{index}]", None, f"expected a dict of column values, got {got}")
                named = {k: self._named(k, v) for k, v in row.items()}
                yield Record(index, rename_columns(named, columns))
                index += 1

    def _named(self, column: str, value: Any) -> Any:
        names = self.class_names.get(column)
        if names is None:
            return value
        if isinstance(value, list):
            return [_class_name(names, v) for v in value]
        return _class_name(names, value)


def _class_name(names: list[str], value: Any) -> Any:
    return names[value] if isinstance(value, int) and 0 <= value < len(names) else value


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r:.40}"


def open_table(source: Any, name: str, split: str) -> Table:
    """A path to a table file or directory, or data in memory, as a :class:`Table`.
    ``split``: the recipe's split, which picks a split of a ``DatasetDict``."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        kind = table_kind(path)
        if kind == "datasets":
            return _dataset_table(_load_from_disk(path, split), name, lambda: content_digest(path))
        if kind is None:
            raise DataError(path, None, "not a Parquet or Arrow file, nor a datasets directory")
        return _arrow_table(_read_file(path, kind), name, lambda: content_digest(path))
    module = type(source).__module__.split(".")[0]
    if module == "datasets" and hasattr(source, "features"):
        return _dataset_table(source, name, lambda: _arrow_digest(source.with_format("arrow")[:]))
    if module == "datasets":  # a DatasetDict, or an iterable dataset
        raise NlpkitError(f"{name}: expected one split (a datasets.Dataset), got {type(source).__name__}")
    if module == "pandas" and hasattr(source, "to_dict"):
        rows = source.to_dict(orient="records")
        return Table(name, [str(c) for c in source.columns], lambda: iter([rows]), lambda: _json_digest(rows))
    if isinstance(source, (list, tuple)):
        rows = list(source)
        columns = list(rows[0]) if rows and isinstance(rows[0], dict) else []
        return Table(name, columns, lambda: iter([rows]), lambda: _json_digest(rows))
    raise NlpkitError(
        f"{name}: expected a path, a datasets.Dataset, a pandas DataFrame or a list of dicts, "
        f"got {type(source).__name__}"
    )


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise NlpkitError(f"reading Parquet, Arrow and datasets data needs pyarrow: {INSTALL}") from None
    return pyarrow


def _read_file(path: Path, kind: TableKind) -> "pa.Table":
    pa = _pyarrow()
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path, memory_map=True)
        with pa.memory_map(str(path)) as handle:
            head = handle.read(6)
            handle.seek(0)
            reader = pa.ipc.open_file(handle) if head == _ARROW_FILE else pa.ipc.open_stream(handle)
            return reader.read_all()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(path, None, f"cannot be read as {KIND_NAMES[kind]}: {exc}") from None


def _load_from_disk(path: Path, split: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise NlpkitError(f"reading a datasets directory needs datasets: {INSTALL}") from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise DataError(path, None, f"cannot be read as {KIND_NAMES['datasets']}: {exc}") from None
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise DataError(
                path, None, f"a DatasetDict without a {split!r} split (splits: {', '.join(loaded)}); name the split's "
                f"directory, e.g. {path / next(iter(loaded), 'train')}",
            )
        return loaded[split]
    return loaded


def _dataset_table(dataset: Any, name: str, digest: Callable[[], str]) -> Table:
    arrow = dataset.with_format("arrow")  # rows as Arrow batches: the selection (indices) applied

    def batches() -> Iterator[list[dict[str, Any]]]:
        for batch in arrow.iter(batch_size=BATCH_ROWS):
            yield batch.to_pylist()

    return Table(name, list(dataset.column_names), batches, digest, _class_names(dataset.features))


def _arrow_table(table: "pa.Table", name: str, digest: Callable[[], str]) -> Table:
    def batches() -> Iterator[list[dict[str, Any]]]:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            yield batch.to_pylist()

    return Table(name, list(table.column_names), batches, digest, _schema_class_names(table.schema))


def _class_names(features: Mapping[str, Any]) -> dict[str, list[str]]:
    """The names of each ClassLabel column, or column of lists of ClassLabels."""
    found = {}
    for column, feature in features.items():
        inner = getattr(feature, "feature", feature)  # List(ClassLabel) / Sequence(ClassLabel)
        names = getattr(inner, "names", None)
        if type(inner).__name__ == "ClassLabel" and names:
            found[column] = list(names)
    return found


def _schema_class_names(schema: "pa.Schema") -> dict[str, list[str]]:
    """Class names from the ``datasets`` features that ``Dataset.to_parquet`` (and its
    Arrow files) keep in the schema's metadata; none without that metadata."""
    if not (schema.metadata or {}).get(b"huggingface"):
        return {}
    try:
        import datasets
    except ImportError:
        return {}  # ids stay ids: the task says what it expected
    return _class_names(datasets.Features.from_arrow_schema(schema))


def content_digest(path: str | Path) -> str:
    """The SHA-256 of a file, or of a directory's or a glob pattern's files (names and
    contents, sorted)."""
    from nlpkit.globs import is_pattern, matching

    path = Path(path)
    digest = hashlib.sha256()
    if is_pattern(path):
        files, named = matching(path), True
    else:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        named = path.is_dir()
    for file in files:
        if named:
            digest.update(str(file.relative_to(path) if path.is_dir() else file).encode() + b"\0")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _arrow_digest(table: "pa.Table") -> str:
    pa = _pyarrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def _json_digest(rows: list[Any]) -> str:
    text = json.dumps(rows, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
