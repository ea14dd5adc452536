"""Dynamic batching: inputs of concurrent requests run through the model together.

Each request hands its inputs to a :class:`Batcher` and awaits their results. The
batcher's loop takes the oldest waiting input, waits at most ``max_wait_ms`` for more to
arrive (until ``max_batch_size`` are there), then takes up to ``max_batch_size`` inputs,
oldest first, and cuts them into forward passes by length: sorted longest first, cut
where an extra pass costs less than the padding it saves (:func:`forwards`), so one long
input does not pad a batch of short ones. The model runs in one worker thread, so the
event loop keeps reading requests meanwhile.

A request whose client went away has its future cancelled: its inputs are dropped
before they run, and results are never set on a cancelled future. A forward that raises
is run again input by input, so that only the requests whose inputs fail get the error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

log = logging.getLogger("nlpkit.serve")

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Job:
    """One request's inputs and the future that gets their results, in order."""

    future: asyncio.Future[list[Any]]
    results: list[Any]
    waiting: int


@dataclass
class _Item(Generic[In]):
    value: In
    length: int
    job: _Job
    index: int
    queued: float = field(default_factory=time.monotonic)


class Batcher(Generic[In, Out]):
    """Runs ``run(values) -> results`` (one result per value, in order; blocking) on
    batches of the values that concurrent :meth:`submit` calls hand in."""

    def __init__(
        self, run: Callable[[list[In]], list[Out]], executor: Executor, *, max_batch_size: int, max_wait_ms: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        self.run = run
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_wait = max(max_wait_ms, 0.0) / 1000
        self.on_batch = on_batch
        """Called with the size of every forward pass that ran (``/metrics``)."""
        self._pending: list[_Item[In]] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop; inputs still waiting get a ``RuntimeError``."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for item in self._pending:
            if not item.job.future.done():
                item.job.future.set_exception(RuntimeError("the server is shutting down"))
        self._pending.clear()

    async def submit(self, values: Sequence[In], lengths: Sequence[int]) -> list[Out]:
        """The results of ``values`` (``lengths``: their sizes, for grouping), once every
        one has run; cancelling the awaiting task drops those not yet run."""
        if not values:
            return []
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        job = _Job(future, [None] * len(values), len(values))
        self._pending.extend(_Item(v, n, job, i) for i, (v, n) in enumerate(zip(values, lengths)))
        self._arrived.set()
        return await future

    async def _loop(self) -> None:
        while True:
            await self._wait_for_batch()
            taken = self._take()
            for group in forwards(taken, self.max_batch_size):
                await self._run_group(group)

    async def _wait_for_batch(self) -> None:
        while not self._live():
            self._arrived.clear()
            await self._arrived.wait()
        deadline = self._pending[0].queued + self.max_wait
        while len(self._pending) < self.max_batch_size and (left := deadline - time.monotonic()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except asyncio.TimeoutError:
                break

    def _live(self) -> bool:
        """Drop the items of requests that were cancelled; whether any are left."""
        self._pending = [item for item in self._pending if not item.job.future.done()]
        return bool(self._pending)

    def _take(self) -> list[_Item[In]]:
        self._live()
        taken, self._pending = self._pending[: self.max_batch_size], self._pending[self.max_batch_size:]
        return taken

    async def _run_group(self, group: list[_Item[In]]) -> None:
        group = [item for item in group if not item.job.future.done()]
        if not group:
            return
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self.run, [item.value for item in group])
        except Exception as exc:
            if len(group) == 1:
                _fail(group[0].job, exc)
                return
            for item in group:  # find the input that fails; the others still get answers
                await self._run_group([item])
            return
        if self.on_batch is not None:
            self.on_batch(len(group))
        for item, result in zip(group, results):
            _deliver(item, result)


PASS_COST = 200
"""A forward pass's fixed cost (Python, dispatch, decoding), in characters of input that
cost as much to run: on a CPU a pass's work grows with its padded size, so an extra pass
pays where it saves more padding than this. ``benchmarks/serve_bound.py`` measures it."""


def forwards(items: list[_Item[In]], max_batch_size: int, pass_cost: float = PASS_COST) -> list[list[_Item[In]]]:
    """``items`` cut into forward passes of at most ``max_batch_size``, longest first,
    at the cuts that minimise the passes' cost: ``pass_cost`` each, plus the longest
    item's length times the items (its padded size)."""
    ordered = sorted(items, key=lambda i: -i.length)
    # best[j]: the least cost of the first j items; cut[j]: where the last pass starts.
    best, cut = [0.0] + [float("inf")] * len(ordered), [0] * (len(ordered) + 1)
    for end in range(1, len(ordered) + 1):
        for start in range(max(0, end - max_batch_size), end):
            cost = best[start] + pass_cost + ordered[start].length * (end - start)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups: list[list[_Item[In]]] = []
    end = len(ordered)
    while end > 0:
        groups.append(ordered[cut[end]:end])
        end = cut[end]
    return groups[::-1]


def _deliver(item: _Item[Any], result: Any) -> None:
    job = item.job
    if job.future.done():  # cancelled by its client, or failed on another input
        return
    job.results[item.index] = result
    job.waiting -= 1
    if job.waiting == 0:
        job.future.set_result(job.results)


def _fail(job: _Job, error: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(error)
