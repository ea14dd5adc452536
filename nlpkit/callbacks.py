"""Lightning callbacks of the core, and its checkpoint IO: the one place where checkpoints
are read and written."""

from __future__ import annotations

import math
import os
import pickle
import re
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO

from nlpkit.errors import RunDirError, Terminated
from nlpkit.monitor import is_val_key
from nlpkit.rundir import replacing

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.cpu import KeptMemoryLimit
    from nlpkit.errors import TrainingInterrupted

SAFE_GLOBALS: tuple[Any, ...] = ()
"""What nlpkit's checkpoints hold besides what ``torch.load(weights_only=True)`` accepts
anyway (tensors, dtypes, dicts, lists, tuples, str, int, float, bool, None): nothing. The
model and optimizer state, the LR scheduler's (LambdaLR: numbers and an empty dict per
group), the loops' progress, the ModelCheckpoint and EarlyStopping states (paths as str,
scores as tensors, the stopping reason as an int), the training loader's position
(``nlpkit_train_loader``: ints) and torch's random state (``nlpkit_rng_state``: uint8
tensors) are all plain data; tests/test_checkpoint_safety.py checks it on a real run. A
type added here is one that loading may construct: add only plain data types."""


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """A checkpoint's contents, unpickled as data only: a file that holds anything else
    (an object whose unpickling could run code) is refused with a :class:`RunDirError`."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise RunDirError(_refused(path, _unsafe_detail(str(exc)))) from None
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such checkpoint") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDirError(
            f"{path} cannot be read as a checkpoint ({first}): it is damaged or cut short; start the run again "
            "with --overwrite"
        ) from None


def check_checkpoint(path: Path) -> None:
    """Refuse a checkpoint that holds more than data, before the run reads or trains anything:
    its pickle is scanned, not run (cheap: the tensors are not read). A file in another
    format than ``torch.save``'s zip is loaded the safe way instead."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except (OSError, RuntimeError, ValueError):
        load_checkpoint(path)
        return
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS}
    unsafe = [name for name in names if name not in allowed]
    if unsafe:
        raise RunDirError(_refused(path, "it names " + ", ".join(unsafe)))


def _unsafe_detail(message: str) -> str:
    """What torch's weights-only unpickler stopped at, from its message."""
    if (found := re.search(r"GLOBAL (\S+)", message)) is not None:
        return f"it names {found[1]}"
    if (found := re.search(r"Unsupported operand \S+", message)) is not None:
        return found[0]
    return "the safe loader stopped at it"


def _refused(path: Path, detail: str) -> str:
    return (
        f"{path}: refused: it holds objects other than tensors and plain data ({detail}), and loading those "
        "could run code; nlpkit checkpoints never hold any. Delete the file if it did not come from nlpkit, and "
        "start the run again with --overwrite"
    )


class SafeCheckpointIO(TorchCheckpointIO):
    """Every checkpoint a run reads or writes goes through here (``Trainer(plugins=...)``).

    Loads are :func:`load_checkpoint` (data only, whatever Lightning asks for). Saves are
    written beside the target and renamed onto it (:func:`nlpkit.rundir.replacing`): a
    crash midway leaves the earlier checkpoint whole, and no temporary file anywhere else
    (Lightning's own save leaves one in the system's temp directory when killed)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("nlpkit's checkpoint IO takes no storage_options")
        with replacing(Path(path)) as partial:
            torch.save(checkpoint, partial)

    def load_checkpoint(
        self, path: Any, map_location: Callable[..., Any] | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        return load_checkpoint(path, map_location)


class LastCheckpoint(ModelCheckpoint):
    """The checkpoint at ``path`` (``checkpoints/last.ckpt``) every
    ``train.checkpoint_every_n_steps`` steps and at the end of every epoch: ModelCheckpoint
    saves on steps or on epochs, not both, so a run killed early in an epoch would
    otherwise lose the whole epoch before."""

    def __init__(self, path: Path, every_n_steps: int) -> None:
        super().__init__(dirpath=path.parent, filename=path.stem, every_n_train_steps=every_n_steps,
                         enable_version_counter=False)

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        super().on_train_epoch_end(trainer, module)
        if not self._should_skip_saving_checkpoint(trainer):  # not twice for one step
            self._save_none_monitor_checkpoint(trainer, self._monitor_candidates(trainer))


class Throughput(pl.Callback):
    """Training time without validation, and examples seen: training throughput."""

    def __init__(self) -> None:
        self.train_seconds = 0.0
        self.examples = 0
        self._mark: float | None = None

    def _stop(self) -> None:
        if self._mark is not None:
            self.train_seconds += time.perf_counter() - self._mark
            self._mark = None

    def on_train_start(self, trainer: Any, module: Any) -> None:
        # A run resumed mid-epoch gets no on_train_epoch_start for that epoch.
        self._mark = time.perf_counter()

    def on_train_epoch_start(self, trainer: Any, module: Any) -> None:
        self._mark = time.perf_counter()

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.examples += int(batch["feature_index"].shape[0])

    def on_validation_start(self, trainer: Any, module: Any) -> None:
        self._stop()

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        # Within fit (mid-epoch or end-of-epoch validation), training resumes now; at the
        # end of an epoch on_train_epoch_end stops the clock again at once.
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._mark = time.perf_counter()

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self._stop()


class TrainingCurves(pl.Callback):
    """What the loggers (``logs/metrics.csv``, TensorBoard, MLflow, W&B) get, at the step
    the run's log names: the number of optimizer steps done.

    * every ``every_n_steps`` steps and at the end of each epoch: ``train_loss``, the mean
      loss of the batches since the last point (and so for each part of the loss that the
      training step returns, such as distillation's ``soft_loss``), and ``lr``, the learning rate of the
      point's last step (of the parameter groups, the largest: ``train.lr``, or
      ``train.head_lr`` when larger, as scheduled);
      ``every_n_steps`` None: about :data:`POINTS` points over the run;
    * after each validation: its metrics (``val_*``), ``val_loss`` among them;
    * when training starts: ``recipe`` as the run's hyperparameters.

    Lightning's own logging counts a training step before it is taken, a validation
    after: its steps lag the log's by one. The module logs with ``logger=False`` (the
    progress bar, checkpoints and early stopping still see the values) and this callback
    writes to the loggers itself.
    """

    POINTS = 200

    def __init__(self, every_n_steps: int | None = None, recipe: dict[str, Any] | None = None) -> None:
        self.every_n_steps = every_n_steps
        self.recipe = recipe
        self._interval = every_n_steps or 1
        self._losses: list[torch.Tensor] = []
        self._parts: dict[str, list[torch.Tensor]] = {}
        """The parts of the loss that the training step names (distillation's ``hard_loss``,
        ``soft_loss``, ``hidden_loss``): each gets a curve of its own."""
        self._logged_step = -1
        self._lr: float | None = None

    def on_fit_start(self, trainer: Any, module: Any) -> None:
        if self.recipe:  # the recipe as the run's hyperparameters (MLflow params, W&B config)
            for logger in trainer.loggers:
                logger.log_hyperparams(self.recipe)

    def on_train_start(self, trainer: Any, module: Any) -> None:
        if self.every_n_steps is None:
            total = trainer.estimated_stepping_batches
            self._interval = max(1, int(total) // self.POINTS) if math.isfinite(total) else 1
        self._losses, self._parts = [], {}

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        if trainer.optimizers:  # the rate this step uses: the schedule moves on before the batch ends
            self._lr = max(group["lr"] for group in trainer.optimizers[0].param_groups)

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor):
            self._losses.append(loss.detach().float())  # no device sync until the point is logged
        for name, value in (outputs.items() if isinstance(outputs, dict) else ()):
            if name != "loss" and name.endswith("_loss") and isinstance(value, torch.Tensor):
                self._parts.setdefault(name, []).append(value.detach().float())
        if trainer.global_step > 0 and trainer.global_step % self._interval == 0:
            self._log_training(trainer)

    def on_train_epoch_end(self, trainer: Any, module: Any) -> None:
        self._log_training(trainer)

    def on_validation_end(self, trainer: Any, module: Any) -> None:
        if trainer.sanity_checking:
            return
        scores = {k: float(v) for k, v in trainer.callback_metrics.items() if is_val_key(k)}
        if scores:
            self._log(trainer, scores)

    def _log_training(self, trainer: Any) -> None:
        """One point for the losses gathered, once per optimizer step at most."""
        if not self._losses or trainer.global_step == self._logged_step:
            return
        point = {"train_loss": float(torch.stack(self._losses).mean())}
        point.update((name, float(torch.stack(values).mean())) for name, values in self._parts.items())
        self._losses, self._parts = [], {}
        self._logged_step = trainer.global_step
        self._log(trainer, point if self._lr is None else {**point, "lr": self._lr})

    @staticmethod
    def _log(trainer: Any, metrics: dict[str, float]) -> None:
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "epoch": trainer.current_epoch}, step=trainer.global_step)
            logger.save()


class ReleaseKeptMemory(pl.Callback):
    """Runs :class:`nlpkit.cpu.KeptMemoryLimit` after every training and evaluation batch."""

    def __init__(self, limit: "KeptMemoryLimit") -> None:
        self.limit = limit

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.limit.check()

    def on_validation_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self.limit.check()


class StopOnInterrupt(pl.Callback):
    """Ctrl-C or SIGTERM while training finishes the step under way, saves it as the last
    checkpoint and stops with :class:`nlpkit.errors.TrainingInterrupted` (exit code 130 or
    143): ``--resume`` then loses no step. (Lightning's own handling stops at once and keeps
    only the checkpoint of ``train.checkpoint_every_n_steps`` before; on SIGTERM it even
    exits with code 0.) A second signal stops at once.

    Armed by :meth:`armed` around ``fit``, in the main thread of a single-process run
    (processes of a distributed run could stop at different steps and wait on each other).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.requested = False
        self.signum: int = signal.SIGINT
        self._armed = False
        self._owner = os.getpid()

    @contextmanager
    def armed(self, enabled: bool = True) -> Iterator[None]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.signal(signum, self._request) for signum in self.SIGNALS}
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def on_train_start(self, trainer: Any, module: Any) -> None:
        # fit has put Lightning's SIGTERM handler in front of ours by now: it would end fit
        # at the next batch, saving nothing, with exit code 0.
        if self._armed:
            signal.signal(signal.SIGTERM, self._request)

    def _request(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._owner:  # a forked loader worker: the main process stops it
            return
        if self.requested:
            raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        self.requested = True
        self.signum = signum
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        # Not the logging module: its lock may be held by the code this signal interrupted.
        sys.stderr.write(f"\nnlpkit: {name}: stopping after this training step ({name} again: at once)\n")

    class Stop(Exception):
        """Raised inside ``fit`` (an ``Exception``: Lightning turns a ``KeyboardInterrupt``
        into ``sys.exit(1)``); the caller of ``fit`` raises :meth:`interrupted` for it."""

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._saved_on_request(trainer):
            raise self.Stop

    def stop_if_requested(self, trainer: Any) -> None:
        """After ``fit``, for a signal during the final validation: save and stop."""
        if self._saved_on_request(trainer):
            raise self.interrupted(trainer)

    def _saved_on_request(self, trainer: Any) -> bool:
        if self.requested:
            trainer.save_checkpoint(self.checkpoint, weights_only=False)
        return self.requested

    def interrupted(self, trainer: Any) -> "TrainingInterrupted":
        from nlpkit.errors import TrainingInterrupted

        return TrainingInterrupted(trainer.global_step, self.checkpoint, signum=self.signum)
