"""Data paths given as glob patterns (``corpus/*.txt``, ``shards/**/*.jsonl``)."""

from __future__ import annotations

import glob
from pathlib import Path

_MAGIC = ("*", "?", "[")


def is_pattern(path: str | Path) -> bool:
    """Whether ``path`` is a glob pattern rather than one file or folder."""
    return any(c in str(path) for c in _MAGIC) and not Path(path).exists()


def matching(pattern: str | Path) -> list[Path]:
    """The files ``pattern`` matches, sorted (``**`` spans folders)."""
    return sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())
