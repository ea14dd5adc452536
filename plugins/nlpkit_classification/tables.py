"""Telling a table of a sequence task's rows (TSV, CSV, labelled lines) from plain
texts, one per line, by the content of a file's first lines."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from nlpkit.readers import Column

SAMPLE = 20
"""Lines looked at: enough that texts which happen to look like rows are not all alike."""


def table_format(
    lines: Sequence[str], data: Any, columns: Sequence[Column], is_label: Callable[[str], bool]
) -> str | None:
    """What kind of table ``lines`` (a file's first lines) begin, or None for texts:

    * a header that names a column the task reads (``sentence``, ``text_a``...);
    * TSV rows: every line holds the same number of tabs (texts hold none);
    * CSV rows without header: every line holds the same number of commas and a label
      the model knows in the label column (texts hold commas too, rarely a label);
    * with ``data.format: lines``, a label the model knows before the first delimiter.

    ``data``: the run's data section (``format``, ``delimiter``, ``label_column``)."""
    rows = [line for line in lines if line.strip()][:SAMPLE]
    if not rows or data.format == "jsonl":
        return None
    if data.format == "lines":
        sep = data.delimiter or " "
        labelled = all(sep in row and is_label(row.split(sep, 1)[0]) for row in rows)
        return "labelled lines (data.format: lines)" if labelled else None
    names = {c for c in columns if isinstance(c, str)}
    for sep, kind in _delimiters(data):
        header = [cell.strip() for cell in rows[0].split(sep)]
        if names & set(header):
            return f"{kind} with a header"
        cells = [row.split(sep) for row in rows]
        width = len(cells[0])
        if width < 2 or any(len(row) != width for row in cells):
            continue
        if sep == "\t" or all(is_label(row[_label_index(data, width)]) for row in cells):
            return kind
    return None


def _delimiters(data: Any) -> list[tuple[str, str]]:
    """The delimiters the run's reader may use, with the table's name for messages."""
    if data.delimiter:
        return [(data.delimiter, f"rows separated by {data.delimiter!r}")]
    tsv, csv = ("\t", "TSV rows"), (",", "CSV rows")
    return {"tsv": [tsv], "csv": [csv]}.get(data.format, [tsv, csv])


def _label_index(data: Any, width: int) -> int:
    """The label column of a headerless row: the recipe's index, else the first."""
    column = getattr(data, "label_column", None)
    return column % width if isinstance(column, int) else 0
