"""JSON Lines for task readers: one object per line, bad lines reported where they are."""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator, Mapping

from nlpkit.columns import rename_columns
from nlpkit.errors import RowErrors


def json_objects(
    lines: Iterable[str],
    errors: RowErrors,
    expected: str = "a JSON object per line",
    columns: Mapping[str, str] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not valid JSON, or
    not an object, goes to ``errors`` (raised, or skipped and counted). ``expected`` says
    what a line should be, for the message; ``columns`` (``data.columns``) renames keys."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            errors.add(number, f"not valid JSON: {exc.msg} (column {exc.colno})")
            continue
        if not isinstance(value, dict):
            errors.add(number, f"expected {expected}, got {type(value).__name__}")
            continue
        yield number, rename_columns(value, columns)
