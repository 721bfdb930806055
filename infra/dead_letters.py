"""Dead-letter repository: list, replay and purge failed jobs, and sweep their `.XQ` messages.

A dead letter is a failed job whose dead letter was not purged (migration 0004). Replaying
queues it again as a retry does (or schedules it, paced); purging stamps it off the list and
leaves it failed. Either way its message in the engine queue's `.XQ` has no reason to stay:
each engine's `.XQ` touched is then swept (infra/dead_letter_queue.py), keeping only the
messages of jobs still dead letters (or running). Messages of jobs already deleted by
retention are dropped too: nothing could replay them.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import structlog
from dramatiq.common import xq_name

from infra import dead_letter_queue
from infra.db import Db
from infra.dispatch import Dispatcher
from infra.jobs import to_dispatch
from infra.settings import Settings
from infra.sql import QUERIES
from schemas.bulk import BULK_LIMIT
from schemas.dead_letters import DeadLetterView, QueueSweepView
from schemas.jobs import JobStatus

log = structlog.get_logger(__name__)

#: Ids per statement (each batch is one short transaction).
BATCH = 1000
#: How long a sweep waits for another sweep of the same queue to end.
LOCK_WAIT_SECONDS = 30.0


class DeadLetterWhere(msgspec.Struct, kw_only=True):
    """Optional filters of the dead-letter list."""

    engine: str | None = None
    operation: str | None = None
    category: str | None = None
    tag: str | None = None
    since: datetime | None = None


class Replayed(msgspec.Struct, kw_only=True):
    """What a replay changed: the jobs run again, the workflow nodes left alone, and the seconds
    until the last paced one is queued."""

    rows: list[Any]
    not_replayable: int
    paced_seconds: float


def to_view(row: asyncpg.Record) -> DeadLetterView:
    """A dead-letter row as the API shows it."""
    fields = dict(row)
    fields["queue"] = fields.pop("engine")
    fields["failed_at"] = fields.pop("finished_at")
    fields["replayable"] = fields["workflow_id"] is None
    return msgspec.convert(fields, DeadLetterView)


async def list_dead_letters(
    db: Db, tenant: str | None, where: DeadLetterWhere, *, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """A page of dead letters, newest failure first: of one tenant, or of all (tenant None)."""
    at, last = after if after is not None else (None, None)
    filters = (where.engine, where.operation, where.category, where.tag, where.since, at, last, limit)
    if tenant is None:
        rows: list[asyncpg.Record] = await db.fetch(QUERIES.list_dead_letters_of_all_tenants, *filters)
    else:
        rows = await db.fetch(QUERIES.list_dead_letters, tenant, *filters)
    return rows


async def select(
    db: Db, tenant: str | None, *, ids: Sequence[uuid.UUID] | None, where: DeadLetterWhere | None
) -> tuple[list[asyncpg.Record], bool]:
    """The dead letters a replay or purge acts on (id, engine, workflow_id), by ids or by filter
    (the first 10,000 of the list); whether more matched the filter."""
    if ids is not None:
        found: list[asyncpg.Record] = []
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), BATCH):
            found += await db.fetch(QUERIES.find_dead_letters, unique[start : start + BATCH], tenant)
        return found, False
    rows = await list_dead_letters(db, tenant, where or DeadLetterWhere(), after=None, limit=BULK_LIMIT + 1)
    return rows[:BULK_LIMIT], len(rows) > BULK_LIMIT


async def replay(
    pool: asyncpg.Pool,
    dispatcher: Dispatcher,
    tenant: str | None,
    selected: Sequence[asyncpg.Record],
    *,
    per_second: float | None,
) -> Replayed:
    """Run selected dead letters again; those queued at once are handed to the dispatcher, the
    paced ones are scheduled for the scheduler to queue."""
    replayable = [row["id"] for row in selected if row["workflow_id"] is None]
    rows: list[Any] = []
    for start in range(0, len(replayable), BATCH):
        batch = replayable[start : start + BATCH]
        places = list(range(start, start + len(batch)))
        done = await pool.fetch(QUERIES.replay_dead_letters, batch, places, tenant, per_second)
        dispatcher.send([to_dispatch(row) for row in done if row["status"] == JobStatus.QUEUED])
        rows += done
    paced = max((float(row["second"]) for row in rows), default=0.0)
    return Replayed(rows=rows, not_replayable=len(selected) - len(replayable), paced_seconds=paced)


async def purge(pool: asyncpg.Pool, tenant: str | None, selected: Sequence[asyncpg.Record]) -> list[asyncpg.Record]:
    """Take selected dead letters off the list (the jobs stay failed); the rows purged (id, engine, attempts)."""
    ids = [row["id"] for row in selected]
    purged: list[asyncpg.Record] = []
    for start in range(0, len(ids), BATCH):
        purged += await pool.fetch(QUERIES.purge_dead_letters, ids[start : start + BATCH], tenant)
    return purged


async def sweep_queues(pool: asyncpg.Pool, settings: Settings, changed: Sequence[Any]) -> list[QueueSweepView]:
    """Sweep the `.XQ` of each engine of the jobs just replayed or purged (rows with id, engine
    and attempts), one sweeper per queue at a time across gateways."""
    targets: dict[str, dict[str, int]] = {}
    for row in changed:
        targets.setdefault(row["engine"], {})[str(row["id"])] = row["attempts"]
    return [
        await sweep_queue(pool, settings, xq_name(settings.queue_name(engine)), targets[engine])
        for engine in sorted(targets)
    ]


async def sweep_queue(
    pool: asyncpg.Pool, settings: Settings, queue: str, targets: dict[str, int] | None = None
) -> QueueSweepView:
    """Delete the messages of one dead-letter queue whose jobs are no dead letters any more:
    the old dead letters of `targets` (job id → attempts when replayed or purged: the job may
    be running again already), and those stale_ids names.

    The advisory lock (held by this session; gone with it) keeps two sweeps of the queue apart:
    each would miss the messages the other holds unacknowledged.
    """
    loop = asyncio.get_running_loop()
    async with pool.acquire() as conn:
        try:
            await conn.execute(QUERIES.lock_dead_letter_queue, queue, timeout=LOCK_WAIT_SECONDS)
        except TimeoutError:
            log.warning("dead_letter_sweep_skipped", queue=queue, reason="another sweep of this queue runs")
            return QueueSweepView(queue=queue, removed=0, kept=0, complete=False)
        try:

            def stale(ids: Sequence[str]) -> set[str]:
                future = asyncio.run_coroutine_threadsafe(stale_ids(conn, ids), loop)
                return future.result(timeout=30)

            done = await asyncio.to_thread(
                functools.partial(dead_letter_queue.sweep, targets=targets), settings.rabbitmq_url, queue, stale
            )
        finally:
            await conn.execute(QUERIES.unlock_dead_letter_queue, queue)
    if done.removed:
        log.info("dead_letters_swept", queue=queue, removed=done.removed, kept=done.kept, complete=done.complete)
    return QueueSweepView(queue=queue, removed=done.removed, kept=done.kept, complete=done.complete)


async def stale_ids(db: Db, ids: Sequence[str]) -> set[str]:
    """Which of these message ids belong to jobs with no dead letter to keep (see the query)."""
    parsed = {}
    for text in ids:
        try:
            parsed[uuid.UUID(text)] = text
        except ValueError:
            continue  # not a job's message: not ours to judge
    if not parsed:
        return set()
    rows = await db.fetch(QUERIES.stale_dead_letter_messages, list(parsed))
    return {parsed[row["id"]] for row in rows}
