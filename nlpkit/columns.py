"""``data.columns``: the data's column names by the names a task reads, applied to a row."""

from __future__ import annotations

from typing import Any, Mapping


def rename_columns(values: dict[str, Any], columns: Mapping[str, str] | None) -> dict[str, Any]:
    """One row's values with ``columns`` (the task's name -> the data's) renamed; a
    column of the data that bears a mapped task name gives way to the mapped one."""
    if not columns:
        return values
    sources = {source: key for key, source in columns.items()}
    return {sources.get(k, k): v for k, v in values.items() if k in sources or k not in columns}
