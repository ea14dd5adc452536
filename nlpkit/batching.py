"""Batching: dynamic padding, length-grouped sampling, splitting outputs per row."""

from __future__ import annotations

import math
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

# Keys padded with 0 besides the pad id for input_ids; "labels"-like keys get -100.
_ZERO_PAD = ("attention_mask", "token_type_ids", "special_tokens_mask")
IGNORE_INDEX = -100


def pad_features(
    features: Sequence[Mapping[str, Any]], pad_id: int = 0, multiple_of: int = 1
) -> dict[str, torch.Tensor]:
    """Stack a batch; list-valued keys are padded to the longest row of this batch,
    rounded up to a multiple of ``multiple_of``.

    ``input_ids`` pad with ``pad_id``; masks and segment ids with 0; any other list
    key (token labels) with -100 so the loss ignores it. Scalars are stacked.
    Non-numeric keys (strings, None) are left out.
    """
    batch: dict[str, torch.Tensor] = {}
    for key in features[0]:
        values = [f[key] for f in features]
        first = values[0]
        if isinstance(first, (list, tuple, np.ndarray)):
            width = -(-max(len(v) for v in values) // multiple_of) * multiple_of
            if key == "input_ids":
                fill = pad_id
            elif key in _ZERO_PAD:
                fill = 0
            else:
                fill = IGNORE_INDEX
            if len(first) and isinstance(first[0], (list, tuple)):  # e.g. multi-hot per token
                continue
            is_float = any(isinstance(x, float) for v in values for x in v[:1])
            out = torch.full((len(values), width), fill, dtype=torch.float32 if is_float else torch.long)
            for i, v in enumerate(values):
                if len(v):
                    out[i, : len(v)] = torch.as_tensor(v, dtype=out.dtype)
            batch[key] = out
        elif isinstance(first, bool):
            batch[key] = torch.tensor(values, dtype=torch.bool)
        elif isinstance(first, int):
            batch[key] = torch.tensor(values, dtype=torch.long)
        elif isinstance(first, float):
            batch[key] = torch.tensor(values, dtype=torch.float32)
    return batch


def split_rows(output: Any, batch: Mapping[str, torch.Tensor]) -> list[Any]:
    """Split a head's output (tensor or dict of tensors) into one numpy value per row.

    Tensors whose second dim is the batch's sequence length are cut to each row's
    real length (sum of its attention mask), so padding never leaks into decoding.
    """
    lengths = batch["attention_mask"].sum(dim=1).tolist() if "attention_mask" in batch else None
    seq_len = batch["attention_mask"].shape[1] if "attention_mask" in batch else None

    def rows(t: torch.Tensor) -> list[np.ndarray]:
        t = t.detach().float().cpu()
        out = []
        for i in range(t.shape[0]):
            row = t[i]
            if lengths is not None and t.dim() >= 2 and t.shape[1] == seq_len:
                row = row[: int(lengths[i])]
            out.append(row.numpy())
        return out

    if isinstance(output, torch.Tensor):
        return rows(output)
    if isinstance(output, Mapping):
        columns = {k: rows(v) for k, v in output.items() if isinstance(v, torch.Tensor)}
        size = len(next(iter(columns.values())))
        return [{k: v[i] for k, v in columns.items()} for i in range(size)]
    raise TypeError(f"cannot split head output of type {type(output).__name__}")


class LengthGroupedSampler(Sampler[int]):
    """Shuffled indices where neighbours have similar lengths.

    Indices are shuffled, cut into mega-batches of ``batch_size * group`` rows, each
    sorted by length and cut into batches; the batches are then shuffled, so every
    epoch differs while padding stays small. The DataLoader re-cuts this flat order into
    ``batch_size`` rows, so the one short batch (the tail of the last mega-batch) goes
    last: anywhere else it would shift every later batch across two length groups. The
    batch holding the longest row goes first, so running out of memory shows at step 1.
    Seeded by ``seed + epoch``; Lightning calls :meth:`set_epoch`.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, group: int = 50, shuffle: bool = True) -> None:
        # numpy, not lists: a streamed pre-training corpus has millions of rows, and a
        # Python int in a list costs 36 bytes where an array's costs 8.
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.seed = seed
        self.group = group
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def order(self) -> np.ndarray:
        """The epoch's row order. Sorting is stable (ties keep the shuffled order), so the
        order is that of Python's ``sorted`` on the same keys."""
        if not self.shuffle:
            return np.argsort(-self.lengths, kind="stable")
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(len(self.lengths), generator=gen).numpy()
        mega = self.batch_size * self.group
        batches: list[np.ndarray] = []
        for start in range(0, len(perm), mega):
            chunk = perm[start : start + mega]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches.extend(chunk[j : j + self.batch_size] for j in range(0, len(chunk), self.batch_size))
        tail = batches.pop() if batches and len(batches[-1]) < self.batch_size else None
        batches = [batches[b] for b in torch.randperm(len(batches), generator=gen).tolist()]
        if batches:
            longest = int(np.argmax([self.lengths[b[0]] for b in batches]))  # the first of the longest
            batches[0], batches[longest] = batches[longest], batches[0]
        if tail is not None:
            batches.append(tail)
        return np.concatenate(batches) if batches else np.zeros(0, dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in self.order())

    def __len__(self) -> int:
        return len(self.lengths)


class EpochShuffleSampler(Sampler[int]):
    """A fresh random order each epoch, seeded by ``seed + epoch`` (so a resumed run
    draws the order it would have drawn); Lightning calls :meth:`set_epoch`."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=gen).tolist())

    def __len__(self) -> int:
        return self.n


class ResumableLoader(DataLoader):
    """The training DataLoader, resumable mid-epoch: :meth:`state_dict` records the epoch
    and how many of its batches were drawn, and after :meth:`load_state_dict` the next
    iteration goes on with that epoch's order from the following batch. (A plain
    DataLoader restarts the epoch's order on ``--resume``: its first batches are trained
    on twice and its last ones never.) :class:`nlpkit.module.TaskModule` keeps the state
    in the checkpoint; the method names are Lightning's protocol for stateful loaders.

    No ``__init__`` of its own: Lightning re-creates the loader from DataLoader's
    arguments to add a distributed sampler.
    """

    _epoch = 0
    _drawn = 0
    _resume: int | None = None

    def __iter__(self) -> Iterator[Any]:
        return self._counted(super().__iter__())

    def _counted(self, batches: Iterator[Any]) -> Iterator[Any]:
        skip = 0
        if self._resume is not None:
            skip, self._resume = self._resume, None
            if self.num_workers > 0 or skip == 0:
                # Lightning may have made this iterator before the state was loaded: with
                # workers it has already read the sampler's order, and at the start of an
                # epoch the uninterrupted run draws the iterator's seed after the checkpoint.
                batches = super().__iter__()
        self._epoch = int(getattr(self.sampler, "epoch", 0))
        self._drawn = 0
        for batch in batches:
            self._drawn += 1
            if self._drawn > skip:  # the skipped ones were trained on before the restart
                yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch, "batches": self._drawn}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, drawn = int(state["epoch"]), int(state["batches"])
        if drawn >= len(self):  # saved at the end of an epoch: the next one starts afresh
            epoch, drawn = epoch + 1, 0
        for sampler in {id(s): s for s in (self.sampler, getattr(self.batch_sampler, "sampler", None))}.values():
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
        self._resume = drawn


def num_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


class FixedOrderSampler(Sampler[int]):
    """Yields a given order of indices (evaluation: longest first, same every time)."""

    def __init__(self, order: Sequence[int]) -> None:
        self.order = list(order)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)
