"""Bulk actions on jobs: cancel or retry up to 10,000 of a tenant's jobs in one call.

Set-based: each batch of ids is one transaction of a few statements (not one per job). Ids
are sorted first, so two bulk actions over the same jobs lock them in the same order. Counts
are over distinct ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import asyncpg
import msgspec

from infra.db import Db
from infra.dispatch import Dispatcher
from infra.jobs import CANCEL_NOW, RETRYABLE, JobFilter, to_dispatch
from infra.sql import QUERIES
from schemas.bulk import BULK_LIMIT
from schemas.jobs import TERMINAL, JobStatus

#: Ids per transaction.
BATCH = 1000
#: What a cancel by filter selects: jobs not finished yet.
CANCEL_SELECTS = sorted(s.value for s in JobStatus if s not in TERMINAL)
#: What a retry by filter selects: failed and cancelled jobs.
RETRY_SELECTS = RETRYABLE


class CancelCounts(msgspec.Struct, kw_only=True):
    """How many jobs a bulk cancel cancelled, asked to stop, could not cancel, did not find."""

    cancelled: int = 0
    cancel_requested: int = 0
    not_cancellable: int = 0
    not_found: int = 0


class RetryCounts(msgspec.Struct, kw_only=True):
    """How many jobs a bulk retry queued again, could not retry, did not find."""

    retried: int = 0
    not_retryable: int = 0
    not_found: int = 0


async def select_ids(db: Db, tenant: str, where: JobFilter, statuses: Sequence[str]) -> tuple[list[uuid.UUID], bool]:
    """The first 10,000 of the tenant's jobs that match the filter and are in one of `statuses`
    (newest first); whether more matched."""
    wanted = [s for s in statuses if where.statuses is None or s in where.statuses]
    if not wanted:
        return [], False
    rows = await db.fetch(
        QUERIES.select_job_ids,
        tenant,
        wanted,
        where.engine,
        where.operation,
        where.tags,
        where.created_after,
        where.created_before,
        BULK_LIMIT + 1,
        where.schedule_id,
        where.workflow_id,
        where.node_key,
    )
    ids = [row["id"] for row in rows]
    return ids[:BULK_LIMIT], len(ids) > BULK_LIMIT


async def cancel_jobs(pool: asyncpg.Pool, tenant: str, ids: Sequence[uuid.UUID]) -> CancelCounts:
    """Cancel jobs: at once those not started, by asking their workers those running."""
    counts = CancelCounts()
    for batch in _batches(ids):
        async with pool.acquire() as conn, conn.transaction():
            cancelled = await conn.fetch(QUERIES.cancel_jobs, batch, tenant, CANCEL_NOW)
            requested = await conn.fetch(QUERIES.request_cancel_jobs, batch, tenant)
            existing = await conn.fetchval(QUERIES.count_jobs, batch, tenant)
        counts.cancelled += len(cancelled)
        counts.cancel_requested += len(requested)
        counts.not_cancellable += existing - len(cancelled) - len(requested)
        counts.not_found += len(batch) - existing
    return counts


async def retry_jobs(pool: asyncpg.Pool, dispatcher: Dispatcher, tenant: str, ids: Sequence[uuid.UUID]) -> RetryCounts:
    """Queue failed and cancelled jobs again (not a workflow's), handing each batch to the dispatcher."""
    counts = RetryCounts()
    for batch in _batches(ids):
        async with pool.acquire() as conn, conn.transaction():
            retried = await conn.fetch(QUERIES.retry_jobs, batch, tenant, RETRYABLE)
            existing = await conn.fetchval(QUERIES.count_jobs, batch, tenant)
        dispatcher.send([to_dispatch(row) for row in retried])
        counts.retried += len(retried)
        counts.not_retryable += existing - len(retried)
        counts.not_found += len(batch) - existing
    return counts


def _batches(ids: Sequence[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), BATCH):
        yield unique[start : start + BATCH]
