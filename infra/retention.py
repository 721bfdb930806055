"""Retention: finished jobs and workflows, with their events and results, are deleted some days
after they end; stats rollups some days after their bucket began."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from infra import stats
from infra.db import Db
from infra.sql import QUERIES


class Pruned(msgspec.Struct, frozen=True):
    """What one retention sweep deleted: jobs, workflows (with their jobs), and the statements
    (batches) that deleted any."""

    jobs: int = 0
    batches: int = 0
    workflows: int = 0
    #: Idempotency keys of job batches (POST /v1/jobs/batch) whose jobs are all gone.
    batch_keys: int = 0


#: Workflows deleted per statement: each takes its nodes' jobs along, so far fewer than jobs.
WORKFLOWS_PER_JOB_BATCH = 1 / 100


async def prune_batch(db: Db, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` jobs (outside workflows) that finished more than `older_than_days` ago; how many went."""
    deleted: int = await db.fetchval(QUERIES.prune_finished_jobs, older_than_days, limit)
    return deleted


async def prune_workflow_batch(db: Db, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` workflows that finished more than `older_than_days` ago, with their jobs."""
    deleted: int = await db.fetchval(QUERIES.prune_finished_workflows, older_than_days, limit)
    return deleted


async def prune_batch_keys(db: Db, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` batch idempotency keys older than `older_than_days` whose jobs are all gone."""
    deleted: int = await db.fetchval(QUERIES.prune_job_batches, older_than_days, limit)
    return deleted


async def prune_finished(
    db: Db, *, older_than_days: int, batch_size: int, stopping: asyncio.Event | None = None
) -> Pruned:
    """Delete every job and workflow past retention (and then the batch idempotency keys left
    without jobs), one short statement per batch, until none is left.

    Each batch is its own transaction, so no lock is held longer than one batch takes.
    """
    jobs, job_batches = await _sweep(prune_batch, db, older_than_days, batch_size, stopping)
    per_batch = max(1, int(batch_size * WORKFLOWS_PER_JOB_BATCH))
    workflows, workflow_batches = await _sweep(prune_workflow_batch, db, older_than_days, per_batch, stopping)
    keys, key_batches = await _sweep(prune_batch_keys, db, older_than_days, batch_size, stopping)
    batches = job_batches + workflow_batches + key_batches
    return Pruned(jobs=jobs, batches=batches, workflows=workflows, batch_keys=keys)


async def prune_stats(db: Db, *, older_than_days: int, batch_size: int, stopping: asyncio.Event | None = None) -> int:
    """Delete every stats rollup row past retention, one short statement per batch; how many went."""
    deleted, _ = await _sweep(stats.prune_batch, db, older_than_days, batch_size, stopping)
    return deleted


async def _sweep(
    batch: Callable[..., Awaitable[int]], db: Db, older_than_days: int, limit: int, stopping: asyncio.Event | None
) -> tuple[int, int]:
    deleted_total = batches = 0
    while stopping is None or not stopping.is_set():
        deleted = await batch(db, older_than_days=older_than_days, limit=limit)
        if deleted:
            deleted_total, batches = deleted_total + deleted, batches + 1
        if deleted < limit:
            break
    return deleted_total, batches
