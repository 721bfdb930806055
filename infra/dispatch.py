"""From queued job to published message: publish, then forget the outbox row; or relay later.

A job reaches here only after its outbox row is committed, so nothing here can lose it: a
publish that fails only delays the job until the relay (in the scheduler) sends it again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import asyncpg
import structlog

from infra.broker import job_message
from infra.db import UNAVAILABLE
from infra.jobs import Dispatch, to_dispatch
from infra.publisher import Outgoing, Publisher, PublishError
from infra.settings import Settings
from infra.sql import QUERIES

log = structlog.get_logger(__name__)


def outgoing(settings: Settings, job: Dispatch) -> Outgoing:
    """The message of a queued job, ready to publish."""
    message = job_message(settings, job)
    return Outgoing(
        queue=message.queue_name, body=message.encode(), priority=job.priority, message_id=message.message_id
    )


class Dispatcher:
    """Publishes queued jobs in the background, batching what concurrent callers hand over.

    While one batch waits for RabbitMQ's confirms the next one gathers, so a busy gateway
    sends many messages per confirm round trip and deletes their outbox rows in one statement.
    """

    def __init__(
        self, pool: asyncpg.Pool, publisher: Publisher, settings: Settings, *, max_batch: int = 1000, in_flight: int = 4
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.settings = settings
        self._max_batch = max_batch
        self._slots = asyncio.Semaphore(in_flight)
        self._pending: list[Dispatch] = []
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin publishing (call on the event loop)."""
        self._runner = asyncio.get_running_loop().create_task(self._run())

    def send(self, jobs: Sequence[Dispatch]) -> None:
        """Hand over queued jobs to publish; returns at once."""
        if jobs:
            self._pending.extend(jobs)
            self._idle.clear()
            self._wake.set()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything handed over so far was published (or given up on)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def close(self, timeout: float = 5.0) -> None:
        """Flush, then stop."""
        await self.flush(timeout)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._slots.acquire()
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                task = asyncio.create_task(self._publish(batch))
                self._tasks.add(task)
                task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks and not self._pending:
            self._idle.set()

    async def _publish(self, jobs: list[Dispatch]) -> None:
        try:
            await self.publisher.publish([outgoing(self.settings, job) for job in jobs], timeout=10.0)
            await self.pool.execute(QUERIES.delete_outbox, [job.id for job in jobs], [job.attempts for job in jobs])
        except (PublishError, *UNAVAILABLE) as exc:
            log.warning("publish_deferred", jobs=len(jobs), error=str(exc) or type(exc).__name__, relay="outbox")
        except Exception:
            log.exception("publish_failed", jobs=len(jobs), relay="outbox")
        finally:
            self._slots.release()


async def relay_outbox(
    pool: asyncpg.Pool, publisher: Publisher, settings: Settings, *, grace_seconds: float, limit: int = 500
) -> int:
    """Publish intents older than the grace period (or urgent) that nobody confirmed; how many
    were settled (sent, or dropped for a job no longer queued), so a caller knows to go on.

    The rows stay locked while their messages are in flight, so two relays never send the
    same row at once; if RabbitMQ does not confirm, the transaction rolls back and they wait
    for the next round.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(QUERIES.lock_stale_outbox, grace_seconds, limit)
        if not rows:
            return 0
        jobs = [to_dispatch(row) for row in rows if row["publish"]]
        await publisher.publish([outgoing(settings, job) for job in jobs], timeout=10.0)
        await conn.execute(QUERIES.delete_outbox, [row["id"] for row in rows], [row["attempts"] for row in rows])
    if jobs:
        log.info("outbox_relayed", jobs=len(jobs))
    return len(rows)
