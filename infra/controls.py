"""Queue controls, the audit log, and the figures of queues kept in PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.ids import encode_cursor
from schemas.operations import AuditEntry, Controls, LimitsUpdate, QueueControl


async def control_state(db: Db) -> Controls:
    """Every queue control, with running counts where limits apply."""
    rows = await db.fetch(QUERIES.queue_control_state)
    return Controls(msgspec.convert(dict(row), QueueControl) for row in rows)


async def get_control(db: Db, queue: str) -> asyncpg.Record | None:
    """One queue's control row, or None if it has none."""
    return await db.fetchrow(QUERIES.get_queue_control, queue)


async def set_paused(db: Db, queue: str, paused: bool, *, who: str) -> asyncpg.Record:
    """Pause or resume a queue; its control row after."""
    row: asyncpg.Record = await db.fetchrow(QUERIES.set_queue_paused, queue, paused, who)
    return row


async def set_limits(db: Db, queue: str, update: LimitsUpdate, *, who: str) -> asyncpg.Record:
    """Change a queue's (or the global) limits; the fields left unset keep their values."""
    concurrency, backlog = update.max_concurrency, update.max_backlog
    row: asyncpg.Record = await db.fetchrow(
        QUERIES.set_queue_limits,
        queue,
        concurrency is not msgspec.UNSET,
        None if concurrency is msgspec.UNSET else concurrency,
        backlog is not msgspec.UNSET,
        None if backlog is msgspec.UNSET else backlog,
        who,
    )
    return row


async def backlog(db: Db, engine: str | None) -> int:
    """Queued and scheduled jobs of a queue (None: of every queue)."""
    return int(await db.fetchval(QUERIES.backlog_of_queue, engine))


async def audit(db: Db, *, tenant: str, key_id: uuid.UUID | None, action: str, target: str, details: Any) -> None:
    """Record an operator's action."""
    await db.execute(QUERIES.insert_audit, tenant, key_id, action, target, details)


async def list_audit(
    db: Db, *, before: int | None, limit: int, action: str | None = None, target: str | None = None
) -> tuple[list[AuditEntry], str | None]:
    """A page of the audit log (entries before id `before`), newest first, and the next page's cursor."""
    rows = await db.fetch(QUERIES.list_audit, before, limit + 1, action, target)
    entries = [
        AuditEntry(
            id=row["id"],
            at=row["at"],
            tenant=row["tenant"],
            key_id=None if row["key_id"] is None else str(row["key_id"]),
            action=row["action"],
            target=row["target"],
            details=row["details"],
        )
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(uuid.UUID(int=entries[-1].id)) if len(rows) > limit else None
    return entries, next_cursor


@dataclass
class Pace:
    """A queue's or operation's recent outcomes (the last hour)."""

    finished_5m: int = 0
    succeeded: int = 0
    failed: int = 0
    mean_run_seconds: float | None = None


@dataclass
class QueueFigures:
    """What PostgreSQL knows of every queue right now."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    by_operation: dict[tuple[str, str], Pace] = field(default_factory=dict)

    def count(self, engine: str, status: str) -> int:
        """Jobs of a queue in a status (queued, scheduled, retrying or running)."""
        return self.counts.get((engine, status), 0)

    def pace(self, engine: str) -> Pace:
        """A queue's outcomes over all its operations, its mean run time weighted by successes."""
        paces = [p for (e, _), p in self.by_operation.items() if e == engine]
        total = Pace(
            finished_5m=sum(p.finished_5m for p in paces),
            succeeded=sum(p.succeeded for p in paces),
            failed=sum(p.failed for p in paces),
        )
        timed = [(p.mean_run_seconds, p.succeeded) for p in paces if p.mean_run_seconds is not None]
        if weight := sum(n for _, n in timed):
            total.mean_run_seconds = sum(mean * n for mean, n in timed) / weight
        return total


async def queue_figures(db: Db, *, with_pace: bool = True) -> QueueFigures:
    """Counts of waiting and running jobs per queue, and (`with_pace`) recent outcomes per operation."""
    figures = QueueFigures()
    for row in await db.fetch(QUERIES.queue_job_counts):
        figures.counts[(row["engine"], str(row["status"]))] = row["n"]
    if not with_pace:
        return figures
    for row in await db.fetch(QUERIES.queue_recent_outcomes):
        mean = row["mean_run_seconds"]
        figures.by_operation[(row["engine"], row["operation"])] = Pace(
            row["finished_5m"], row["succeeded"], row["failed"], None if mean is None else float(mean)
        )
    return figures


async def jobs_ahead(db: Db, jobs: Sequence[tuple[uuid.UUID, str]]) -> dict[uuid.UUID, int]:
    """How many queued jobs of their queue go before each of these (id, engine)."""
    rows = await db.fetch(QUERIES.jobs_ahead, [j[0] for j in jobs], sorted({j[1] for j in jobs}))
    return {row["id"]: row["ahead"] for row in rows}


async def oldest_queued(db: Db) -> dict[str, float]:
    """The age in seconds of each queue's oldest queued job."""
    return {row["engine"]: row["age_seconds"] for row in await db.fetch(QUERIES.oldest_queued)}


async def eta_inputs(db: Db, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, float | None]]:
    """(engine, operation) → (jobs of the engine running now, the operation's recent mean run time)."""
    rows = await db.fetch(QUERIES.eta_inputs, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(row["engine"], row["operation"]): (row["running"], row["mean_run_seconds"]) for row in rows}


class ControlsCache:
    """Queue controls read at most once a `ttl` (what submissions check their backlog against)."""

    def __init__(self, pool: asyncpg.Pool, *, ttl: float = 1.0) -> None:
        self._pool = pool
        self._ttl = ttl
        self._read_at = float("-inf")
        self._controls = Controls()

    async def get(self) -> Controls:
        """The controls, read again if older than the ttl."""
        now = time.monotonic()
        if now - self._read_at > self._ttl:
            self._controls = await control_state(self._pool)
            self._read_at = now
        return self._controls
