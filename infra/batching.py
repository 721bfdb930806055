"""Many small requests, one statement: what concurrent callers ask while batches are in flight
goes together in the next one. No timer: a lone request goes at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


class Batcher(Generic[K, R]):
    """Collects requests on the event loop and runs them through `run`, a batch at a time.

    Up to `in_flight` batches run at once (each on its own connection), so one slow commit
    does not hold everything else up. `run` answers a result per request, in order; if it
    raises, every request of that batch gets the error.
    """

    def __init__(
        self, run: Callable[[Sequence[K]], Awaitable[Sequence[R]]], *, max_size: int = 100, in_flight: int = 2
    ) -> None:
        self._run = run
        self._max_size = max_size
        self._in_flight = in_flight
        self._flushers: set[asyncio.Task[None]] = set()
        #: Flushers that have not yet seen the pending list empty. Counted apart from
        #: `_flushers` because a finished task leaves that set only when its done-callbacks
        #: run: a request made in between would find no flusher coming and wait for ever.
        self._active = 0
        self._pending: list[tuple[K, asyncio.Future[R]]] = []

    async def submit(self, request: K) -> R:
        """The result of one request, run with whatever else is pending."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((request, future))
        if self._active < self._in_flight:
            self._active += 1
            flusher = loop.create_task(self._flush())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        return await future

    async def _flush(self) -> None:
        try:
            await self._drain()
        finally:
            self._active -= 1  # in the step that found nothing pending: no request falls between

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_size], self._pending[self._max_size :]
            try:
                results = await self._run([request for request, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
