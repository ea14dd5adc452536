"""The reader types now live in the core, :mod:`nlpkit.readers`, for every plugin;
re-exported here for code that imported them from the classification plugin."""

from nlpkit.readers import (
    MAX_FIELD_CHARS,
    BadRow,
    Column,
    Format,
    Record,
    detect_format,
    find_column,
    pick,
    read_examples,
    read_records,
)

__all__ = [
    "MAX_FIELD_CHARS",
    "BadRow",
    "Column",
    "Format",
    "Record",
    "detect_format",
    "find_column",
    "pick",
    "read_examples",
    "read_records",
]
