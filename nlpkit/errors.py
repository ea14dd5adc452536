"""Errors that nlpkit reports to users as one paragraph, without a traceback."""

from __future__ import annotations

from pathlib import Path


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
    """Ctrl-C: the command stopped; the message says what was kept and how to go on.

    A ``KeyboardInterrupt``, not an :class:`NlpkitError`: Python code that lets Ctrl-C
    through (``except Exception``) still does. The CLI prints it the same way.
    """

    exit_code = 130  # the shell's code for a command ended by SIGINT
    label = "stopped"


class TrainingInterrupted(Interrupted):
    """Ctrl-C while training: the step under way was finished and saved for ``--resume``."""

    def __init__(self, step: int, checkpoint: str | Path) -> None:
        self.step = step
        self.checkpoint = str(checkpoint)
        super().__init__(
            f"interrupted after step {step}, saved to {self.checkpoint}; the same command with --resume "
            "continues from there"
        )


class RowErrors:
    """Collects bad rows of one file: raises on the first (``on_error: raise``) or skips
    and counts them (``on_error: skip``), then reports where they were."""

    def __init__(self, path: str | Path, on_error: str = "raise") -> None:
        self.path = str(path)
        self.on_error = on_error
        self.skipped: list[tuple[int | None, str]] = []

    def add(self, line: int | None, message: str) -> None:
        if self.on_error != "skip":
            raise DataError(self.path, line, message)
        self.skipped.append((line, message))

    def report(self) -> None:
        if not self.skipped:
            return
        import logging

        first = "; ".join(f"line {line}: {msg}" for line, msg in self.skipped[:3])
        logging.getLogger("nlpkit").warning(
            "%s: skipped %d malformed rows (data.on_error: skip), e.g. %s", self.path, len(self.skipped), first
        )
