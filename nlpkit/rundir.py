"""The run directory: its layout, the one place that names its files, and how it is
made ready, locked and written.

::

    <output.dir>/                  RunDir(path)
      .nlpkit-run                  .marker          nlpkit made this directory
      .nlpkit-lock                 .lock            held by the run in progress
      recipe.yaml                  .recipe          the resolved recipe
      train.log                    .log
      metrics.json                 .metrics
      learning_curve.png           .plot
      report.html                  .report(split)   report-test.html for the test split
      checkpoints/                 .checkpoints     last.ckpt (.last_checkpoint), best.ckpt
      predictions/                 .predictions(split, fmt): validation.jsonl, test.conll ...
      logs/                        .logs            metrics.csv, tensorboard/
      model/                       .model_dir       ModelDir: all that nlpkit.load reads
        config.json, model.safetensors, tokenizer files   (transformers' save_pretrained)
        head.safetensors           .head_file
        task.json                  .task_file       task, plugin and version, task state
        recipe.yaml                .recipe          the same resolved recipe

nlpkit marks each run directory it creates (:data:`MARKER`) and only ever deletes what
the layout names, inside a marked directory; while a run goes on it holds an OS lock on
the directory (:class:`RunLock`), which dies with the process.

An export (``nlpkit export RUN_DIR OUT``) is a directory that another library loads
(transformers, onnxruntime) plus what nlpkit needs to load it back::

    <OUT>/                         ExportDir(path)
      nlpkit-export.json           .meta            format, task, labels, precision, nlpkit
                                                    version, the files the export wrote
      README.md                    .card            the model card (Hub format)
      model.safetensors            .weights         the format's own files: config.json,
      ...                                           weights, tokenizer files
      model.onnx                   .onnx_model      the ONNX graph (--format onnx)
      nlpkit/                      .saved           ModelDir: what nlpkit reads back
        task.json, recipe.yaml     .task_file, .recipe   as in a run's model/
        config.json, head.safetensors                  the encoder's config, the head

The metadata file marks the directory as nlpkit's export: ``--overwrite`` deletes only the
entries it lists, and a non-empty directory without it is never written into.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from glob import escape
from pathlib import Path
from typing import Any, Iterable, Iterator

from nlpkit.errors import RunDirError, stopped_by

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not locked
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("nlpkit")

RECIPE = "recipe.yaml"
METRICS = "metrics.json"
LOG = "train.log"
CHECKPOINTS = "checkpoints"
PREDICTIONS = "predictions"
PLOT = "learning_curve.png"
REPORT = "report.html"
"""The report of the validation split; that of the test split is report-test.html."""
TEST_REPORT = "report-test.html"
LOGS = "logs"
MODEL = "model"
MARKER = ".nlpkit-run"
"""Written when nlpkit creates a run directory: {"nlpkit": version, "created": time}."""
LOCK = ".nlpkit-lock"
"""Locked (flock) by the run in progress, which writes its PID in it; never deleted."""
LAST = "last.ckpt"
BEST = "best.ckpt"
METRICS_CSV = "metrics.csv"
TASK_FILE = "task.json"
HEAD_FILE = "head.safetensors"
CONFIG = "config.json"
"""The encoder's configuration, written by transformers' ``save_pretrained``."""
EXPORT_META = "nlpkit-export.json"
"""An export's metadata; its presence marks the directory as an nlpkit export."""
EXPORT_STATE = "nlpkit"
WEIGHTS = "model.safetensors"
"""The weights transformers' ``save_pretrained`` writes (one file: nlpkit's models are small)."""
MODEL_CARD = "README.md"
ONNX_MODEL = "model.onnx"
"""An ONNX export's graph: the encoder and the head, int8 when quantized."""
PREDICTION_SUFFIX = {"jsonl": ".jsonl", "conll": ".conll", "squad": ".json"}
"""File suffix of each prediction format; any other format ``f`` is written as ``.f``."""

LAYOUT = frozenset({RECIPE, METRICS, LOG, CHECKPOINTS, PREDICTIONS, PLOT, REPORT, TEST_REPORT, LOGS, MODEL, MARKER})
"""What ``--overwrite`` deletes; anything else in the directory stays."""
BEFORE_TRAINING = frozenset({RECIPE, LOG, MARKER, LOCK})
"""All that a run leaves when it stops before training: it can simply start again."""


@dataclass(frozen=True)
class ModelDir:
    """A saved model: what ``nlpkit.load`` reads, in a run directory's ``model/``."""

    path: Path

    REQUIRED = (TASK_FILE, RECIPE, CONFIG, HEAD_FILE)
    """The files without which the folder is not a whole model."""

    @property
    def task_file(self) -> Path:
        return self.path / TASK_FILE

    @property
    def head_file(self) -> Path:
        return self.path / HEAD_FILE

    @property
    def recipe(self) -> Path:
        return self.path / RECIPE

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    def task_name(self) -> str | None:
        """The task that ``task.json`` names, or None (no such file, or not readable)."""
        try:
            meta = json.loads(self.task_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta.get("task") if isinstance(meta, dict) else None


class RunDir:
    """The paths of one run directory (the layout above): ``RunDir(out).last_checkpoint``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def recipe(self) -> Path:
        return self.path / RECIPE

    @property
    def log(self) -> Path:
        return self.path / LOG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def plot(self) -> Path:
        return self.path / PLOT

    def report(self, split: str = "validation") -> Path:
        """The report of ``split``: ``report.html`` (validation), ``report-test.html`` (test)."""
        return self.path / (REPORT if split == "validation" else TEST_REPORT)

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.path / CHECKPOINTS / LAST

    @property
    def best_checkpoint(self) -> Path:
        return self.path / CHECKPOINTS / BEST

    @property
    def predictions_dir(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def logs(self) -> Path:
        return self.path / LOGS

    @property
    def metrics_csv(self) -> Path:
        return self.path / LOGS / METRICS_CSV

    @property
    def metrics_logs(self) -> list[Path]:
        """Every ``metrics.csv`` of the run, oldest first: those that
        :func:`keep_earlier_log` moved aside when it was resumed, then the current one."""
        return [p for p in [*_earlier_logs(self.path), self.metrics_csv] if p.exists()]

    @property
    def model_dir(self) -> ModelDir:
        return ModelDir(self.path / MODEL)

    @property
    def finished(self) -> bool:
        """Whether a run saved its model here (``model/task.json``)."""
        return self.model_dir.task_file.is_file()

    def predictions(self, split: str, fmt: str = "jsonl") -> Path:
        """The predictions file of ``split`` in format ``fmt``: ``predictions/test.conll``."""
        return self.path / PREDICTIONS / f"{split}{PREDICTION_SUFFIX.get(fmt, '.' + fmt)}"


def model_dir(path: str | os.PathLike[str]) -> ModelDir:
    """The saved model that ``path`` names: a finished run directory's ``model/``, else
    ``path`` itself (a model folder, or any checkpoint directory)."""
    run = RunDir(path)
    return run.model_dir if run.finished else ModelDir(run.path)


@dataclass(frozen=True)
class ExportDir:
    """The paths of one export directory (the export layout above)."""

    path: Path

    @property
    def meta(self) -> Path:
        return self.path / EXPORT_META

    @property
    def card(self) -> Path:
        return self.path / MODEL_CARD

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS

    @property
    def onnx_model(self) -> Path:
        return self.path / ONNX_MODEL

    @property
    def saved(self) -> ModelDir:
        """What nlpkit reads back: the task state, the recipe, the encoder's config, the head."""
        return ModelDir(self.path / EXPORT_STATE)

    @property
    def is_export(self) -> bool:
        return self.meta.is_file()

    def read_meta(self) -> dict[str, Any]:
        """The metadata file, checked to name a format; :class:`RunDirError` otherwise."""
        try:
            meta = json.loads(self.meta.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or not isinstance(meta.get("format"), str):
                raise ValueError("expected an object with a 'format' key")
        except OSError as exc:
            raise RunDirError(f"{self.path} is not an nlpkit export ({EXPORT_META} cannot be read: {exc.strerror})") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise RunDirError(f"{self.meta} is damaged ({exc}); export the run again") from None
        return meta

    def files(self) -> list[str]:
        """The entries an earlier export wrote here (its metadata's ``files``): plain names
        only, so that a doctored file cannot point ``--overwrite`` outside the directory."""
        listed = self.read_meta().get("files", [])
        names = [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
        return [n for n in names if n not in ("", ".", "..") and Path(n).name == n]


def check_export_target(out: Path, *, overwrite: bool) -> None:
    """Refuse ``out`` as an export's destination before any work, by the rules of run
    directories: a new or empty directory takes an export; an earlier export is replaced
    only with ``overwrite``; a run directory or a directory that is not nlpkit's never is,
    and ``overwrite`` never deletes where the user's own files are (:func:`_refuse_protected`)."""
    if overwrite:
        _refuse_protected(out, (), "choose another output directory")
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out} is a file, not a directory; choose another output directory")
    names = _entries(out)
    if names and MARKER in names:
        raise RunDirError(f"{out} is an nlpkit run directory; export into another directory")
    if names and EXPORT_META not in names:
        raise RunDirError(
            f"output directory {out} is not empty and is not an nlpkit export (it has no {EXPORT_META} file); "
            f"it holds {_some(names)}. nlpkit neither writes into nor deletes such a directory, not even with "
            "--overwrite: choose another, or empty it yourself"
        )
    if names and not overwrite:
        raise RunDirError(f"{out} already holds an export; replace it with --overwrite, or choose another directory")
    if names:
        ExportDir(out).files()  # a damaged metadata file is said now, not after the export's work
    why = unwritable(out)
    if why:
        raise RunDirError(f"cannot export to {out}: {why}")


@contextmanager
def staged_export(out: Path) -> Iterator[ExportDir]:
    """A new directory beside ``out`` to write an export into. When the block ends without
    error it takes ``out``'s place (an earlier export there is replaced: the entries it
    listed are deleted, others stay); on an error or Ctrl-C it is deleted and ``out`` is
    left as it was. Call :func:`check_export_target` first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(out.parent, out.name)
    stage = partial_path(out)
    stage.mkdir()
    try:
        yield ExportDir(stage)
        _install_export(stage, out)
    finally:
        if stage.is_dir():
            shutil.rmtree(stage)


def _install_export(stage: Path, out: Path) -> None:
    names = _entries(out)
    if not names:
        if out.is_dir():
            out.rmdir()
        stage.rename(out)
        return
    old = ExportDir(out)
    listed = set(old.files()) | {EXPORT_META}
    kept = names - listed
    clash = sorted(kept & _entries(stage))
    if clash:
        raise RunDirError(f"{out} holds {_some(clash)}, not written by the earlier export; move it away first")
    old.meta.unlink()  # first: a half-replaced export is never taken for a whole one
    for name in sorted(listed & names - {EXPORT_META}):
        path = out / name
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
    for entry in sorted(stage.iterdir(), key=lambda p: p.name == EXPORT_META):  # the metadata last
        entry.replace(out / entry.name)
    log.info("--overwrite: replaced the export in %s", out)
    if kept:
        log.warning("--overwrite: %s also holds %s, not part of the export: left in place", out, _some(kept))


_PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial(?P<pid>\d+)(?:-(?P<host>[A-Za-z0-9_.-]*))?$")
_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())


def unwritable(path: Path) -> str | None:
    """Why nlpkit could not write at ``path`` (a directory, existing or to be created), or
    None. Tried by creating a file in ``path``, or in its nearest existing ancestor: that
    is what counts, where permission bits do not (root writes through them; a read-only
    mount stops everyone)."""
    import tempfile

    folder = path
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a directory"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"a file cannot be created in {folder} ({exc.strerror or exc})"
    return None


def open_run(out: Path, *, resume: bool, overwrite: bool, keep: Iterable[str | Path] = ()) -> "RunLock":
    """Make ``out`` ready for a run and lock it for the run's life; refuse what is not ours.

    An empty or new directory takes a new run. A marked run directory holding only the
    recipe and the log is a run that stopped before it trained (a bad data row, an
    interrupt while tokenizing): it is used again, and its log grows by the new attempt, so
    the same command works once the cause is fixed. ``resume`` needs checkpoints/last.ckpt;
    ``overwrite`` deletes the layout's entries of a marked directory, never ``out`` itself
    nor anything in ``keep`` (the recipe, the data). A directory that is not nlpkit's is
    refused before anything is written into it."""
    if resume and overwrite:
        raise RunDirError(f"--resume continues the run in {out} and --overwrite deletes it: give one of the two")
    if overwrite:
        _refuse_protected(out, keep)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"output.dir {out} is a file, not a directory; choose another with output.dir=...")
    if out.is_dir():
        _refuse_foreign(out, resume=resume)
    elif resume:
        raise RunDirError(f"--resume: {out} does not exist, so there is no run to continue; run without --resume")
    out.mkdir(parents=True, exist_ok=True)
    lock = RunLock(out)
    try:
        _make_ready(out, resume=resume, overwrite=overwrite)
    except BaseException:
        lock.release()
        raise
    return lock


def _make_ready(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Under the lock: the directory is looked at again, as another run may have changed it."""
    names = _entries(out)
    if overwrite:
        _clear(out, names)
    else:
        _check_reuse(out, names, resume=resume)
    run = RunDir(out)
    for folder in (run.checkpoints, run.predictions_dir):
        clean_partials(folder)  # left by a run killed while writing (kill -9, power loss)
    if not run.marker.exists():
        from nlpkit.version import __version__

        write_json(run.marker, {"nlpkit": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def _entries(out: Path) -> frozenset[str]:
    return frozenset(p.name for p in out.iterdir()) if out.is_dir() else frozenset()


def _some(names: Iterable[str], limit: int = 5) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def _refuse_foreign(out: Path, *, resume: bool) -> None:
    names = _entries(out)
    if names <= {LOCK} or MARKER in names:
        return
    if resume and RunDir(out).last_checkpoint.is_file():  # a run of an nlpkit that wrote no marker yet
        return
    raise RunDirError(
        f"output directory {out} is not empty and is not an nlpkit run directory (it has no {MARKER} file); "
        f"it holds {_some(names)}. nlpkit neither writes into nor deletes such a directory, not even with "
        "--overwrite: choose another with output.dir=..., or empty it yourself (runs made before nlpkit wrote "
        "this marker have none: delete such a run yourself)"
    )


def _refuse_protected(out: Path, keep: Iterable[str | Path], hint: str = "choose another with output.dir=...") -> None:
    """``--overwrite`` deletes in ``out``: never where that could take the user's own files."""
    target = out.resolve()
    places = [(Path.cwd(), "the current directory")] + [(Path(p), str(p)) for p in keep]
    try:
        places.append((Path.home(), "the home directory"))
    except RuntimeError:  # no home directory known
        pass
    if target == Path(target.anchor):
        why = "it is the root directory"
    else:
        inside = [name for path, name in places if target == path.resolve() or target in path.resolve().parents]
        if not inside:
            return
        why = f"it is or holds {inside[0]}"
    raise RunDirError(
        f"--overwrite: refusing to delete anything in {out}: {why}; {hint}"
    )


def _check_reuse(out: Path, names: frozenset[str], *, resume: bool) -> None:
    last = RunDir(out).last_checkpoint
    if resume:
        if not last.is_file():
            raise RunDirError(_nothing_to_resume(out, names))
        return
    if names <= BEFORE_TRAINING:
        if names - {MARKER, LOCK}:
            log.info("output directory %s holds a run that stopped before training: starting it again", out)
        return
    if last.is_file():
        raise RunDirError(
            f"output directory {out} already holds a run; continue it with --resume, replace it with "
            "--overwrite, or choose another with output.dir=..."
        )
    raise RunDirError(
        f"output directory {out} already holds a run ({_without_checkpoint(names)}, so --resume has no "
        f"{CHECKPOINTS}/{LAST} to continue from); replace it with --overwrite, or choose another with output.dir=..."
    )


def _without_checkpoint(names: frozenset[str]) -> str:
    return "finished" if METRICS in names else "stopped before its first checkpoint"


def _nothing_to_resume(out: Path, names: frozenset[str]) -> str:
    if not names - {MARKER, LOCK}:
        return f"--resume: {out} holds no run to continue; run without --resume to start one"
    if names <= BEFORE_TRAINING:
        return (f"--resume: the run in {out} stopped before training and has no checkpoint to continue from; "
                "the same command without --resume starts it again")
    return (f"--resume: {out} has no {CHECKPOINTS}/{LAST} to continue from (the run {_without_checkpoint(names)}); "
            "start it again with --overwrite, or choose another with output.dir=...")


def _clear(out: Path, names: frozenset[str]) -> None:
    """``--overwrite``: delete the layout's entries (and partial files of them), nothing else."""
    kept = []
    for name in sorted(names - {LOCK}):  # the lock file stays: this run holds it
        partial = _PARTIAL.match(name)
        if name in LAYOUT or (partial is not None and partial["name"] in LAYOUT):
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        else:
            kept.append(name)
    if names - {LOCK}:
        log.info("--overwrite: replacing the run in %s", out)
    if kept:
        log.warning("--overwrite: %s also holds %s, not part of a run directory: left in place", out, _some(kept))


class RunLock:
    """An exclusive OS lock (``flock``) on ``out/.nlpkit-lock`` for the life of a run, with
    the holder's PID written in it. The OS drops it when the process ends, however it
    ends: a killed run never leaves a directory locked."""

    def __init__(self, out: Path) -> None:
        self.path = RunDir(out).lock
        self._handle: Any = None
        if fcntl is None:  # pragma: no cover
            return
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunDirError(
                f"output directory {out} is in use by another nlpkit run (process {holder} holds {self.path}); "
                "wait for it to end or stop it, or choose another directory with output.dir=..."
            ) from None
        except OSError as exc:  # a file system without locks: run unlocked, but say so
            handle.close()
            log.warning("cannot lock %s (%s): a second run in this directory would not be stopped", self.path, exc)
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def attach_log(out: Path) -> logging.Handler:
    """Mirror nlpkit's log into ``train.log`` (appends on resume)."""
    handler = logging.FileHandler(RunDir(out).log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("nlpkit").addHandler(handler)
    return handler


def keep_earlier_log(out: Path) -> None:
    """Move an interrupted run's metrics.csv aside (metrics.part1.csv, ...)."""
    current = RunDir(out).metrics_csv
    if current.exists():
        current.rename(current.with_name(f"{current.stem}.part{len(_earlier_logs(out)) + 1}{current.suffix}"))


def _earlier_logs(out: Path) -> list[Path]:
    """The metrics.csv files that :func:`keep_earlier_log` moved aside, oldest first."""
    current = RunDir(out).metrics_csv
    return sorted(current.parent.glob(f"{current.stem}.part*{current.suffix}"))


def interrupted(out: Path, signum: int = signal.SIGINT) -> str:
    """What a user needs to hear after a Ctrl-C or SIGTERM outside the training steps: what
    is kept and which command picks the run up again."""
    what = stopped_by(signum)
    last = RunDir(out).last_checkpoint
    if last.exists():
        return f"{what}; {last} holds the last saved step: the same command with --resume continues from there"
    if _entries(out) <= BEFORE_TRAINING:
        return f"{what} before a checkpoint was saved; the same command starts the run again"
    return f"{what} before a checkpoint was saved; the same command with --overwrite starts the run again"


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` when the block
    ends without error, and is removed otherwise: an error or Ctrl-C midway leaves an
    earlier file of that name as it was, and parallel readers never see half a file.
    Partial files of ``path`` that killed processes left (kill -9 cannot be cleaned up
    after) are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_partials(path.parent, path.name)
    partial = partial_path(path)
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def partial_path(path: Path) -> Path:
    """This process's partial file or folder of ``path`` (written, then renamed to ``path``),
    named so that :func:`clean_partials` finds it once the process has ended."""
    return path.with_name(f".{path.name}.partial{os.getpid()}-{_HOST}")


def clean_partials(folder: Path, name: str | None = None) -> int:
    """Delete the partial files of :func:`replacing` in ``folder`` (of ``name`` only, if
    given) whose process has ended; returns how many. Those of another machine (a shared
    file system) stay: its processes cannot be looked up from here."""
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob(f".{escape(name)}.partial*" if name else ".*.partial*"):
        match = _PARTIAL.match(path.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if match["host"] in (None, _HOST) and not _alive(int(match["pid"])):
            if path.is_dir() and not path.is_symlink():  # a staged export (:func:`staged_export`)
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` to ``path`` all at once (:func:`replacing`); returns their number."""
    count = 0
    with replacing(path) as partial, partial.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(line + "\n")
            count += 1
    return count
