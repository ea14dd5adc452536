"""The Hugging Face Trainer's training time over the same span nlpkit reports.

nlpkit's ``train_examples_per_second`` divides by the time of its training epochs,
first batch to last, validation left out. The Trainer's own ``train_samples_per_second``
divides by a ``train_runtime`` that starts before its first epoch. The comparisons in
this folder time both sides over the epochs, with this callback on the Trainer side.
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback


class EpochClock(TrainerCallback):
    """Wall time of the Trainer's training epochs (the comparisons evaluate nothing in
    between)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.seconds += time.perf_counter() - self._start
