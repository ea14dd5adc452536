"""The dynamic batcher alone: who shares a forward pass, cancelled and failing requests."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from nlpkit.serve.batcher import Batcher, _Item, _Job, forwards


def items(lengths: list[int]) -> list[_Item[int]]:
    job = _Job(None, [None] * len(lengths), len(lengths))  # type: ignore[arg-type]
    return [_Item(n, n, job, i) for i, n in enumerate(lengths)]


def test_one_long_input_does_not_pad_the_short_ones() -> None:
    groups = forwards(items([12, 400, 10, 14, 11]), max_batch_size=8)
    assert [[i.length for i in group] for group in groups] == [[400], [14, 12, 11, 10]]


def test_a_forward_holds_at_most_max_batch_size() -> None:
    groups = forwards(items([10] * 7), max_batch_size=3)
    assert sorted(len(group) for group in groups) == [1, 3, 3]


def run(batcher: Batcher[Any, Any], coroutine: Any) -> Any:
    async def main() -> Any:
        batcher.start()
        try:
            return await coroutine()
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_concurrent_requests_meet_in_one_forward() -> None:
    seen: list[list[int]] = []

    def double(values: list[int]) -> list[int]:
        seen.append(values)
        return [2 * v for v in values]

    sizes: list[int] = []
    batcher: Batcher[int, int] = Batcher(double, ThreadPoolExecutor(1), max_batch_size=16, max_wait_ms=200,
                                         on_batch=sizes.append)

    async def requests() -> Any:
        return await asyncio.gather(*(batcher.submit([i, i + 100], [5, 5]) for i in range(4)))

    assert run(batcher, requests) == [[2 * i, 2 * (i + 100)] for i in range(4)]
    assert seen == [[0, 100, 1, 101, 2, 102, 3, 103]]
    assert sizes == [8]


def test_max_batch_size_one_runs_every_input_alone() -> None:
    sizes: list[int] = []
    batcher: Batcher[int, int] = Batcher(lambda v: v, ThreadPoolExecutor(1), max_batch_size=1, max_wait_ms=50,
                                         on_batch=sizes.append)

    async def requests() -> Any:
        return await asyncio.gather(*(batcher.submit([i], [1]) for i in range(3)))

    assert run(batcher, requests) == [[0], [1], [2]]
    assert sizes == [1, 1, 1]


def test_a_cancelled_request_leaves_the_batch_and_the_others_are_answered() -> None:
    seen: list[list[str]] = []
    batcher: Batcher[str, str] = Batcher(lambda v: seen.append(v) or v, ThreadPoolExecutor(1), max_batch_size=8,
                                         max_wait_ms=300)

    async def requests() -> Any:
        quitter = asyncio.ensure_future(batcher.submit(["gone"], [4]))
        stayer = asyncio.ensure_future(batcher.submit(["kept"], [4]))
        await asyncio.sleep(0.05)
        quitter.cancel()
        return await stayer

    started = time.monotonic()
    assert run(batcher, requests) == ["kept"]
    assert seen == [["kept"]] and time.monotonic() - started < 5


def test_a_failing_input_fails_only_its_own_request() -> None:
    def picky(values: list[str]) -> list[str]:
        if "bad" in values:
            raise ValueError("cannot read 'bad'")
        return [v.upper() for v in values]

    batcher: Batcher[str, str] = Batcher(picky, ThreadPoolExecutor(1), max_batch_size=8, max_wait_ms=100)

    async def requests() -> Any:
        return await asyncio.gather(batcher.submit(["ok"], [2]), batcher.submit(["bad"], [3]),
                                    batcher.submit(["fine", "too"], [4, 3]), return_exceptions=True)

    good, bad, more = run(batcher, requests)
    assert good == ["OK"] and more == ["FINE", "TOO"]
    assert isinstance(bad, ValueError) and "cannot read 'bad'" in str(bad)


def test_max_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(lambda v: v, ThreadPoolExecutor(1), max_batch_size=0, max_wait_ms=1)
