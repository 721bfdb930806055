"""Retention: finished jobs, with their events and results, are deleted some days after they end."""

from __future__ import annotations

import asyncio

import msgspec

from infra.db import Db
from infra.sql import QUERIES


class Pruned(msgspec.Struct, frozen=True):
    """What one retention sweep deleted: jobs, and the statements (batches) that deleted any."""

    jobs: int = 0
    batches: int = 0


async def prune_batch(db: Db, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` jobs that finished more than `older_than_days` ago; how many went."""
    deleted: int = await db.fetchval(QUERIES.prune_finished_jobs, older_than_days, limit)
    return deleted


async def prune_finished(
    db: Db, *, older_than_days: int, batch_size: int, stopping: asyncio.Event | None = None
) -> Pruned:
    """Delete every job past retention, one short statement per batch, until none is left.

    Each batch is its own transaction, so no lock is held longer than one batch takes.
    """
    pruned = Pruned()
    while stopping is None or not stopping.is_set():
        deleted = await prune_batch(db, older_than_days=older_than_days, limit=batch_size)
        if deleted:
            pruned = Pruned(pruned.jobs + deleted, pruned.batches + 1)
        if deleted < batch_size:
            break
    return pruned
