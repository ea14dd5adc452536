"""Lightning callbacks of the core."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl

if TYPE_CHECKING:  # pragma: no cover
    from nlpkit.cpu import KeptMemoryLimit


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
