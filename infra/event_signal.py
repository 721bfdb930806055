"""Waking the event streams after commit, for writers that defer it.

A transaction that NOTIFYs holds PostgreSQL's notification lock from its commit until it ends,
so concurrent committers that notify queue behind one another and lose group commit. The
workers' writes (claims, finishes, heartbeats: most events) therefore run on connections whose
session says `conveyor.defer_event_notify = on`, which keeps the event triggers from
notifying, and wake the streams with one NOTIFY of their own right after, in a transaction
that writes nothing. Bursts coalesce: one NOTIFY in flight and at most one per
`SPACING_SECONDS` (a few milliseconds of lag, against a statement per commit); a lost one is
covered by the hubs' periodic read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from infra.db import RETRYABLE
from infra.sql import QUERIES

log = structlog.get_logger("conveyor.events")

#: The session settings of connections whose event triggers leave the NOTIFY to EventSignal.
DEFER_NOTIFY: dict[str, str] = {"conveyor.defer_event_notify": "on"}
#: The least time between two NOTIFYs of one process.
SPACING_SECONDS = 0.01


class EventSignal:
    """Sends the NOTIFY that wakes the event hubs, on the event loop, at most one at a time."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool
        self._pending = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Say that a commit wrote events (call on the loop, after the commit)."""
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await self._pool().execute(QUERIES.wake_event_streams)
            except RETRYABLE as exc:  # the hubs' periodic read picks the events up
                log.warning("event_wake_failed", error=str(exc) or type(exc).__name__)
                return
            await asyncio.sleep(SPACING_SECONDS)  # commits meanwhile share the next one

    async def close(self) -> None:
        """Wait for the NOTIFY in flight, if any."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
