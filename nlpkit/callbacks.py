"""Lightning callbacks of the core."""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytorch_lightning as pl

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.cpu import KeptMemoryLimit
    from nlpkit.errors import TrainingInterrupted


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


class ReleaseKeptMemory(pl.Callback):
    """Runs :class:`nlpkit.cpu.KeptMemoryLimit` after every training and evaluation batch."""

    def __init__(self, limit: "KeptMemoryLimit") -> None:
        self.limit = limit

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.limit.check()

    def on_validation_batch_end(self, *args: Any, **kwargs: Any) -> None:
        self.limit.check()


class StopOnInterrupt(pl.Callback):
    """Ctrl-C while training finishes the step under way, saves it as the last checkpoint
    and stops with :class:`nlpkit.errors.TrainingInterrupted`: ``--resume`` then loses no
    step. (Lightning's own handling stops at once and keeps only the checkpoint of
    ``train.checkpoint_every_n_steps`` before.) A second Ctrl-C stops at once.

    Armed by :meth:`armed` around ``fit``, in the main thread of a single-process run
    (processes of a distributed run could stop at different steps and wait on each other).
    """

    def __init__(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.requested = False

    @contextmanager
    def armed(self, enabled: bool = True) -> Iterator[None]:
        if not enabled or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._request)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _request(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        # Not the logging module: its lock may be held by the code this signal interrupted.
        sys.stderr.write("\nnlpkit: Ctrl-C: stopping after this training step (Ctrl-C again: at once)\n")

    class Stop(Exception):
        """Raised inside ``fit`` (an ``Exception``: Lightning turns a ``KeyboardInterrupt``
        into ``sys.exit(1)``); the caller of ``fit`` raises :meth:`interrupted` for it."""

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._saved_on_request(trainer):
            raise self.Stop

    def stop_if_requested(self, trainer: Any) -> None:
        """After ``fit``, for a Ctrl-C during the final validation: save and stop."""
        if self._saved_on_request(trainer):
            raise self.interrupted(trainer)

    def _saved_on_request(self, trainer: Any) -> bool:
        if self.requested:
            trainer.save_checkpoint(self.checkpoint, weights_only=False)
        return self.requested

    def interrupted(self, trainer: Any) -> "TrainingInterrupted":
        from nlpkit.errors import TrainingInterrupted

        return TrainingInterrupted(trainer.global_step, self.checkpoint)
