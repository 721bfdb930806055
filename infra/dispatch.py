"""From queued job to published message: publish, then forget the outbox row; or relay later."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import structlog

from infra.broker import job_message
from infra.db import Db
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


async def dispatch(
    db: Db, publisher: Publisher, settings: Settings, jobs: Sequence[Dispatch], *, timeout: float = 5.0
) -> bool:
    """Publish queued jobs and forget their outbox rows.

    False when RabbitMQ did not confirm them in time; their outbox rows stay and the relay
    publishes them later, so an accepted job is never lost.
    """
    if not jobs:
        return True
    try:
        await publisher.publish_async([outgoing(settings, job) for job in jobs], timeout=timeout)
    except (PublishError, TimeoutError) as exc:
        log.warning("publish_deferred", jobs=len(jobs), error=str(exc) or type(exc).__name__)
        return False
    await db.execute(QUERIES.delete_outbox, [job.id for job in jobs], [job.attempts for job in jobs])
    return True


async def relay_outbox(
    pool: asyncpg.Pool, publisher: Publisher, settings: Settings, *, grace_seconds: float, limit: int = 500
) -> int:
    """Publish intents older than the grace period that nobody confirmed; how many were sent.

    The rows stay locked while their messages are in flight, so two relays never send the
    same row at once; if RabbitMQ does not confirm, the transaction rolls back and they wait
    for the next round.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(QUERIES.lock_stale_outbox, grace_seconds, limit)
        if not rows:
            return 0
        jobs = [to_dispatch(row) for row in rows if row["publish"]]
        await publisher.publish_async([outgoing(settings, job) for job in jobs], timeout=10.0)
        await conn.execute(QUERIES.delete_outbox, [row["id"] for row in rows], [row["attempts"] for row in rows])
    if jobs:
        log.info("outbox_relayed", jobs=len(jobs))
    return len(jobs)
