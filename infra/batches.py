"""Batches of jobs submitted under an idempotency key: which jobs a key stands for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from infra.db import Db
from infra.sql import QUERIES


async def claim_batch(
    conn: asyncpg.Connection, tenant: str, key: str, body_hash: bytes, ids: Sequence[uuid.UUID]
) -> bool:
    """Take the key for this batch (in the transaction storing its jobs); False if the tenant
    used it before. A concurrent claim waits until this transaction ends."""
    return await conn.fetchval(QUERIES.insert_job_batch, tenant, key, body_hash, list(ids)) is not None


async def record_batch_jobs(conn: asyncpg.Connection, tenant: str, key: str, ids: Sequence[uuid.UUID]) -> None:
    """The jobs a claimed batch stored, in order."""
    await conn.execute(QUERIES.set_job_batch_ids, tenant, key, list(ids))


async def get_batch(db: Db, tenant: str, key: str) -> asyncpg.Record | None:
    """The body hash and job ids of the batch a tenant submitted under `key`, or None."""
    return await db.fetchrow(QUERIES.get_job_batch, tenant, key)


async def jobs_in_order(db: Db, tenant: str, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """A tenant's jobs with these ids, in this order (those no longer kept are left out)."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.get_jobs_in_order, tenant, list(ids))
    return rows
