"""Errors that nlpkit reports to users as one paragraph, without a traceback."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


class NlpkitError(Exception):
    """Base class: the CLI prints the message and exits with code 2."""

    exit_code = 2
    label = "error"
    """What the CLI prints before the message."""


class RecipeError(NlpkitError):
    """A recipe is invalid: unknown key, wrong type, missing file, unknown task."""


class PluginError(NlpkitError):
    """A plugin failed to load or a name is not registered."""


class DataError(NlpkitError):
    """A data file holds a row that cannot be read; names the file and line."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class RunDirError(NlpkitError):
    """A run directory is missing, incomplete or in the way."""


class InputError(NlpkitError):
    """An input given to predict cannot be used (e.g. an empty text). ``index`` is its
    position in the list given (None for a single input); ``reason`` is the message
    without that position, for callers that name it otherwise (a file's line)."""

    def __init__(self, reason: str, index: int | None = None) -> None:
        self.index = index
        self.reason = reason
        super().__init__(reason if index is None else f"inputs[{index}]: {reason}")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the command stopped; the message says what was kept and how to go on.

    A ``KeyboardInterrupt``, not an :class:`NlpkitError`: Python code that lets Ctrl-C
    through (``except Exception``) still does. The CLI prints it the same way, and exits
    with the shell's code for the signal: 130 for SIGINT, 143 for SIGTERM.
    """

    exit_code = 128 + signal.SIGINT
    label = "stopped"

    def __init__(self, message: str = "", *, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises ``KeyboardInterrupt`` (see :func:`sigterm_raises`),
    so that ``finally`` blocks run and the command says what was kept."""


def stopped_by(signum: int) -> str:
    """How a message names the signal that stopped a command."""
    return "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"


def signal_of(exc: KeyboardInterrupt) -> int:
    return signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in this process (by default it
    ends Python at once: no cleanup, exit code -15). Only in the main thread, and only when
    SIGTERM still has its default action: an application's own handler stays."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return
    owner = os.getpid()

    def terminate(signum: int, frame: Any) -> None:
        if os.getpid() != owner:  # a forked loader worker: die as it would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class TrainingInterrupted(Interrupted):
    """Ctrl-C or SIGTERM while training: the step under way was finished and saved for ``--resume``."""

    def __init__(self, step: int, checkpoint: str | Path, *, signum: int = signal.SIGINT) -> None:
        self.step = step
        self.checkpoint = str(checkpoint)
        super().__init__(
            f"{stopped_by(signum)} after step {step}, saved to {self.checkpoint}; the same command with --resume "
            "continues from there",
            signum=signum,
        )


class RowErrors:
    """Collects bad rows of one file: raises on the first (``on_error: raise``) or skips
    and counts them (``on_error: skip``), then reports where they were. ``unit``: what
    the numbers count, "line" in a text file, "row" (an index) in a table."""

    def __init__(self, path: str | Path, on_error: str = "raise", unit: str = "line") -> None:
        self.path = str(path)
        self.on_error = on_error
        self.unit = unit
        self.skipped: list[tuple[int | None, str]] = []

    def add(self, line: int | None, message: str) -> None:
        if self.on_error != "skip":
            raise DataError(self.path, line, message)
        self.skipped.append((line, message))

    def report(self) -> None:
        if not self.skipped:
            return
        import logging

        first = "; ".join(f"{self.unit} {line}: {msg}" for line, msg in self.skipped[:3])
        logging.getLogger("nlpkit").warning(
            "%s: skipped %d malformed rows (data.on_error: skip), e.g. %s", self.path, len(self.skipped), first
        )
