"""The batcher: concurrent requests share statements, errors reach every caller of a batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from infra.batching import Batcher


async def test_requests_arriving_together_share_a_batch() -> None:
    batches: list[list[int]] = []

    async def run(requests: Sequence[int]) -> list[int]:
        batches.append(list(requests))
        await asyncio.sleep(0.01)
        return [r * 10 for r in requests]

    batcher: Batcher[int, int] = Batcher(run, in_flight=1)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert batches == [[0, 1, 2, 3, 4]]


async def test_a_failing_batch_fails_each_of_its_requests_only() -> None:
    async def run(requests: Sequence[int]) -> list[int]:
        if 3 in requests:
            raise RuntimeError("boom")
        return list(requests)

    batcher: Batcher[int, int] = Batcher(run, max_size=1)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    assert results[:3] == [0, 1, 2] and results[4] == 4
    assert isinstance(results[3], RuntimeError)


async def test_a_lone_request_goes_at_once() -> None:
    batcher: Batcher[int, int] = Batcher(lambda requests: _echo(requests))
    assert await asyncio.wait_for(batcher.submit(7), 1) == 7


async def _echo(requests: Sequence[int]) -> list[int]:
    return list(requests)


@pytest.mark.parametrize("size", [1, 50])
async def test_max_size_bounds_each_batch(size: int) -> None:
    seen: list[int] = []

    async def run(requests: Sequence[int]) -> list[int]:
        seen.append(len(requests))
        return list(requests)

    batcher: Batcher[int, int] = Batcher(run, max_size=size, in_flight=1)
    await asyncio.gather(*(batcher.submit(i) for i in range(120)))
    assert max(seen) <= size


async def test_a_request_made_as_a_batch_ends_is_still_run() -> None:
    # Given one batch at a time, and a caller that asks again the moment its answer comes,
    # before the loop has run the finished batch's callbacks
    batcher: Batcher[int, int] = Batcher(lambda requests: _echo(requests), in_flight=1)

    async def caller() -> tuple[int, int]:
        return await batcher.submit(1), await batcher.submit(2)

    # Then the second request is run all the same (it once waited for a third that never came)
    assert await asyncio.wait_for(caller(), timeout=5) == (1, 2)
