"""The pre-training corpus read lazily: :class:`CorpusStream` yields the documents of
``data.train`` (files, a folder, a glob pattern or a ``datasets`` directory) one at a
time, again on each iteration, so that the core can encode a corpus larger than memory
into shards (:mod:`nlpkit.shards`). It yields exactly the documents that
``PretrainTask.read`` returns, in the same order: held-out documents
(``data.validation_documents``) are chosen by the same seeded draw, which needs the
document count, and so one counting pass, first.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator

from nlpkit.errors import DataError, RowErrors
from nlpkit_pretrain.corpus import Document, iter_documents, iter_row_documents, no_text


def holds_out(source: str | Path, data: Any) -> bool:
    """Whether ``data.validation_documents`` are taken from ``source`` (it is ``data.train``)."""
    return bool(data.validation_documents and data.train and Path(source).resolve() == Path(data.train).resolve())


def corpus_options(data: Any) -> dict[str, Any]:
    """The recipe's ``data`` settings as :func:`~nlpkit_pretrain.corpus.iter_documents`
    (and ``read_documents``) take them."""
    return {
        "format": data.format, "boundary": data.document_boundary, "text_field": data.text_field,
        "encoding": data.encoding, "on_error": data.on_error, "columns": data.columns,
    }


def held_out_indices(total: int, source: str | Path, data: Any) -> set[int]:
    """The indices of the held-out documents among ``total`` (seeded by ``data.split_seed``)."""
    count = data.validation_documents
    if count >= total:
        raise DataError(source, None, f"data.validation_documents = {count}, but the file has {total} documents")
    return set(random.Random(data.split_seed).sample(range(total), count))


class CorpusStream:
    """The documents of ``path`` for ``split``, read as they are iterated; ``data`` is the
    recipe's data section (a ``PretrainDataOptions``)."""

    def __init__(self, path: Path, split: str, data: Any) -> None:
        self.path, self.split, self.data = path, split, data

    def __iter__(self) -> Iterator[Document]:
        chosen = held_out_indices(sum(1 for _ in self._documents()), self.path, self.data) if holds_out(
            self.path, self.data
        ) else None
        keep_held_out = self.split != "train"
        yielded = 0
        for index, document in enumerate(self._documents()):
            if chosen is None or (index in chosen) == keep_held_out:
                yielded += 1
                yield document
        if not yielded:
            raise self._empty()

    def _documents(self) -> Iterator[Document]:
        from nlpkit.tabular import open_table, table_kind

        data = self.data
        if table_kind(self.path) is not None:  # a datasets directory, Parquet or Arrow: a batch of rows at a time
            table = open_table(self.path, str(self.path), self.split)
            rows = ((r.line, r.values) for r in table.records(data.columns))
            yield from iter_row_documents(rows, table.name, data.text_field, RowErrors(table.name, data.on_error, unit="row"))
            return
        yield from iter_documents(self.path, **corpus_options(data))

    def _empty(self) -> DataError:
        from nlpkit.tabular import table_kind

        data = self.data
        if table_kind(self.path) is not None:
            return DataError(self.path, None, f"no text found: no row holds a non-empty {data.text_field!r} string")
        return no_text(self.path, format=data.format, text_field=data.text_field, encoding=data.encoding)
