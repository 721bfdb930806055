"""Job repository: every read and state change of jobs, one guarded statement each."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

import asyncpg
import msgspec

from infra.db import Db, json_text
from infra.sql import QUERIES
from schemas.events import EventView
from schemas.jobs import PROGRESS_DIGITS, JobStatus, JobView, sources_of


class NewJob(msgspec.Struct, kw_only=True):
    """A validated job ready to be stored."""

    id: uuid.UUID
    engine: str
    operation: str
    status: JobStatus
    priority: int
    params: dict[str, Any]
    max_retries: int
    retry_backoff_seconds: float
    retry_backoff_max_seconds: float
    timeout_seconds: float
    tags: list[str]
    metadata: dict[str, Any]
    idempotency_key: str | None
    run_at: datetime | None = None
    #: Whom to tell of its events (schemas.jobs.Notify as JSON), or None.
    notify: dict[str, Any] | None = None
    #: The jobs it waits for (then it is stored `waiting`), and what it does if one fails.
    depends_on: list[uuid.UUID] = []
    on_dependency_failure: str = "cancel"
    #: The error categories and types it is retried on (None: transient errors).
    retry_on: list[str] | None = None
    #: The template version it was made from (`name@<version>`), or None.
    template: str | None = None


class Dispatch(msgspec.Struct, kw_only=True):
    """What it takes to publish a queued job's message."""

    id: uuid.UUID
    engine: str
    operation: str
    priority: int
    attempts: int


class JobFilter(msgspec.Struct, kw_only=True):
    """Optional filters of a job listing."""

    statuses: list[str] | None = None
    engine: str | None = None
    operation: str | None = None
    tags: list[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    schedule_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    node_key: str | None = None


def to_view(row: asyncpg.Record) -> JobView:
    """A job row as the API shows it (progress rounded: a 4-byte float reads back as 0.3499999…)."""
    data = dict(row)
    data["progress"] = round(data["progress"], PROGRESS_DIGITS)
    return msgspec.convert(data, JobView)


def to_dispatch(row: Mapping[str, Any]) -> Dispatch:
    """The publish details of a queued job (a row, or any mapping with its fields)."""
    return Dispatch(
        id=row["id"],
        engine=row["engine"],
        operation=row["operation"],
        priority=row["priority"],
        attempts=row["attempts"],
    )


def job_columns(jobs: Sequence[NewJob]) -> list[list[Any]]:
    """Parameters $1 and $3 to $15 of the statements that insert jobs (the tenant is $2)."""
    return [
        [j.id for j in jobs],
        [j.engine for j in jobs],
        [j.operation for j in jobs],
        [j.status.value for j in jobs],
        [j.priority for j in jobs],
        [json_text(j.params) for j in jobs],
        [j.max_retries for j in jobs],
        [j.retry_backoff_seconds for j in jobs],
        [j.retry_backoff_max_seconds for j in jobs],
        [j.timeout_seconds for j in jobs],
        [json_text(j.tags) for j in jobs],
        [json_text(j.metadata) for j in jobs],
        [j.run_at for j in jobs],
        [None if j.notify is None else json_text(j.notify) for j in jobs],
    ]


def retry_on_column(jobs: Sequence[NewJob]) -> list[str | None]:
    """The `retry_on` of each job as a parameter of the statements that insert jobs (JSON texts or nulls)."""
    return [None if j.retry_on is None else json_text(j.retry_on) for j in jobs]


async def insert_jobs(db: Db, tenant: str, jobs: Sequence[NewJob]) -> list[asyncpg.Record]:
    """Store jobs of one tenant in one statement; those whose idempotency key exists are skipped."""
    ids, *rest = job_columns(jobs)
    rows: list[asyncpg.Record] = await db.fetch(
        QUERIES.insert_jobs,
        ids,
        tenant,
        *rest,
        [j.idempotency_key for j in jobs],
        [json_text([str(dep) for dep in j.depends_on]) for j in jobs],
        [j.on_dependency_failure for j in jobs],
        retry_on_column(jobs),
        [j.template for j in jobs],
    )
    return rows


async def jobs_by_idempotency_key(db: Db, tenant: str, keys: Sequence[str]) -> list[asyncpg.Record]:
    """The jobs a tenant already submitted under these keys."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.get_jobs_by_idempotency_key, tenant, list(keys))
    return rows


async def get_job(db: Db, tenant: str, job_id: uuid.UUID) -> asyncpg.Record | None:
    """One job of a tenant, or None."""
    return await db.fetchrow(QUERIES.get_job, job_id, tenant)


async def list_jobs(
    db: Db, tenant: str, where: JobFilter, *, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    """A page of a tenant's jobs, newest first."""
    rows: list[asyncpg.Record] = await db.fetch(
        QUERIES.list_jobs,
        tenant,
        where.statuses,
        where.engine,
        where.operation,
        where.tags,
        where.created_after,
        where.created_before,
        after,
        limit,
        where.schedule_id,
        where.workflow_id,
        where.node_key,
    )
    return rows


async def list_events(db: Db, tenant: str, job_id: uuid.UUID, *, after: int, limit: int) -> list[EventView]:
    """A job's history, oldest first."""
    rows = await db.fetch(QUERIES.list_job_events, job_id, tenant, after, limit)
    return [msgspec.convert(dict(row), EventView) for row in rows]


CANCEL_NOW = sources_of(JobStatus.CANCELLED, excluding=frozenset({JobStatus.RUNNING}))
RETRYABLE = [JobStatus.FAILED.value, JobStatus.CANCELLED.value]


async def cancel_job(
    conn: asyncpg.Connection, tenant: str, job_id: uuid.UUID
) -> tuple[Literal["cancelled", "requested", "unchanged"], asyncpg.Record] | None:
    """Cancel a job: at once if it has not started, by asking its worker if it runs.

    None if the tenant has no such job; otherwise what happened and the job after it:
    `cancelled` (it will never run), `requested` (its worker was told to stop it), or
    `unchanged` (it had already finished).
    """
    async with conn.transaction():
        row = await conn.fetchrow(QUERIES.cancel_job, job_id, tenant, CANCEL_NOW)
        if row is not None:
            return "cancelled", row
        row = await conn.fetchrow(QUERIES.request_cancel, job_id, tenant)
        if row is not None:
            await conn.execute(QUERIES.notify_cancel, str(job_id))
            return "requested", row
        row = await conn.fetchrow(QUERIES.get_job, job_id, tenant)
        return None if row is None else ("unchanged", row)


async def retry_job(db: Db, tenant: str, job_id: uuid.UUID) -> asyncpg.Record | None:
    """Queue a failed or cancelled job again; None if it is in no such state."""
    return await db.fetchrow(QUERIES.retry_job, job_id, tenant, RETRYABLE)


async def delete_job(db: Db, tenant: str, job_id: uuid.UUID) -> bool:
    """Delete a finished job that is in no workflow and that no waiting job depends on, with
    its events and artifacts; whether it was deleted."""
    return await db.fetchval(QUERIES.delete_job, job_id, tenant) is not None


class Finish(msgspec.Struct, frozen=True):
    """How an attempt ended, to record."""

    job_id: uuid.UUID
    status: JobStatus
    result: Any = None
    error: dict[str, Any] | None = None
    retry_in: float | None = None


class Claims(NamedTuple):
    """What a claim got: the rows of the jobs it took, and the ids that queue controls held back."""

    claimed: dict[uuid.UUID, asyncpg.Record]
    held: set[uuid.UUID]


async def claim_jobs(
    db: Db,
    job_ids: Sequence[uuid.UUID],
    worker_id: str,
    *,
    lease_seconds: float,
    max_worker_losses: int,
    limited: Sequence[str] = (),
) -> Claims:
    """Take jobs for this worker. Those not claimed nor held are finished, cancelled, or owned
    by a live worker. `limited` names the engines among them with a concurrency limit (as
    far as the caller knows): their claims then count running jobs one claimer at a time."""
    args = (list(job_ids), worker_id, lease_seconds, max_worker_losses)
    if limited:
        async with _connection(db) as conn, conn.transaction():
            await conn.execute(QUERIES.lock_queue_limits, list(limited))
            rows = await conn.fetch(QUERIES.claim_jobs, *args)
    else:
        rows = await db.fetch(QUERIES.claim_jobs, *args)
    return Claims({row["id"]: row for row in rows if not row["held"]}, {row["id"] for row in rows if row["held"]})


def _connection(db: Db) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
    """A connection of a pool (given back after), or the connection given."""
    if isinstance(db, asyncpg.Pool):
        return db.acquire()  # type: ignore[no-any-return]
    return contextlib.nullcontext(db)


async def claim_job(
    db: Db, job_id: uuid.UUID, worker_id: str, *, lease_seconds: float, max_worker_losses: int
) -> asyncpg.Record | None:
    """Take one job for this worker; None if it is not to be run (or is held back)."""
    claims = await claim_jobs(db, [job_id], worker_id, lease_seconds=lease_seconds, max_worker_losses=max_worker_losses)
    return claims.claimed.get(job_id)


async def finish_jobs(db: Db, worker_id: str, finishes: Sequence[Finish]) -> set[uuid.UUID]:
    """Record how attempts ended; the ids recorded (a job no longer this worker's is not)."""
    rows = await db.fetch(
        QUERIES.finish_jobs,
        worker_id,
        [f.job_id for f in finishes],
        [f.status.value for f in finishes],
        [None if f.result is None else json_text(f.result) for f in finishes],
        [None if f.error is None else json_text(f.error) for f in finishes],
        [f.retry_in for f in finishes],
    )
    return {row["id"] for row in rows}


async def finish_job(
    db: Db,
    job_id: uuid.UUID,
    worker_id: str,
    status: JobStatus,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
    retry_in: float | None = None,
) -> bool:
    """Record how one attempt ended; False if the job is no longer this worker's."""
    return job_id in await finish_jobs(db, worker_id, [Finish(job_id, status, result, error, retry_in)])


async def heartbeat(
    db: Db, worker_id: str, beats: Sequence[tuple[uuid.UUID, float | None, str | None]]
) -> dict[uuid.UUID, bool]:
    """Renew this worker's running jobs; job id → cancel requested, for the jobs still its own."""
    rows = await db.fetch(
        QUERIES.heartbeat, worker_id, [b[0] for b in beats], [b[1] for b in beats], [b[2] for b in beats]
    )
    return {row["id"]: row["cancel_requested"] for row in rows}


async def promote_due(db: Db, *, limit: int) -> list[Dispatch]:
    """Queue scheduled and retrying jobs whose time has come."""
    return [to_dispatch(row) for row in await db.fetch(QUERIES.promote_due, limit)]


async def seconds_until_due(db: Db) -> float | None:
    """Seconds until the next job is due to be queued; None if none waits."""
    value = await db.fetchval(QUERIES.seconds_until_due)
    return None if value is None else float(value)


async def rescue_orphans(db: Db, *, lease_seconds: float, max_worker_losses: int, limit: int) -> list[asyncpg.Record]:
    """Settle running jobs whose worker is gone; the rows changed, with their new status."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.rescue_orphans, lease_seconds, max_worker_losses, limit)
    return rows
