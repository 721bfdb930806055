"""Schedule repository: every read and change of cron schedules, and firing them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from infra.db import Db
from infra.jobs import Dispatch, NewJob
from infra.sql import QUERIES
from schemas.ids import uuid7
from schemas.schedules import ScheduleView


class NewSchedule(msgspec.Struct, kw_only=True):
    """A checked schedule ready to be stored (or stored again after a change)."""

    name: str
    cron: str
    timezone: str
    job: dict[str, Any]
    enabled: bool
    next_run_at: datetime | None


def to_view(row: asyncpg.Record) -> ScheduleView:
    """A schedule row as the API shows it."""
    return msgspec.convert(dict(row), ScheduleView)


async def create_schedule(pool: asyncpg.Pool, tenant: str, schedule: NewSchedule) -> asyncpg.Record:
    """Store a new schedule and wake the leading scheduler; the row."""
    s = schedule
    async with pool.acquire() as conn, conn.transaction():
        row: asyncpg.Record = await conn.fetchrow(
            QUERIES.insert_schedule, uuid7(), tenant, s.name, s.cron, s.timezone, s.job, s.enabled, s.next_run_at
        )
        await conn.execute(QUERIES.notify_schedules)
    return row


async def get_schedule(db: Db, tenant: str, schedule_id: uuid.UUID) -> asyncpg.Record | None:
    """One schedule of a tenant, or None."""
    return await db.fetchrow(QUERIES.get_schedule, schedule_id, tenant)


async def lock_schedule(conn: asyncpg.Connection, tenant: str, schedule_id: uuid.UUID) -> asyncpg.Record | None:
    """One schedule of a tenant, locked until the caller's transaction ends; or None."""
    return await conn.fetchrow(QUERIES.lock_schedule, schedule_id, tenant)


async def update_schedule(
    conn: asyncpg.Connection, tenant: str, schedule_id: uuid.UUID, schedule: NewSchedule
) -> asyncpg.Record | None:
    """Replace a schedule's settings and wake the leading scheduler (at commit); the row."""
    s = schedule
    row: asyncpg.Record | None = await conn.fetchrow(
        QUERIES.update_schedule, schedule_id, tenant, s.name, s.cron, s.timezone, s.job, s.enabled, s.next_run_at
    )
    await conn.execute(QUERIES.notify_schedules)
    return row


async def delete_schedule(db: Db, tenant: str, schedule_id: uuid.UUID) -> bool:
    """Delete a schedule of a tenant; False if it has none such."""
    return await db.fetchval(QUERIES.delete_schedule, schedule_id, tenant) is not None


async def list_schedules(db: Db, tenant: str, *, after: uuid.UUID | None, limit: int) -> list[asyncpg.Record]:
    """A page of a tenant's schedules, newest first."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.list_schedules, tenant, after, limit)
    return rows


async def due_schedules(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    """Enabled schedules whose time has come, locked until the caller's transaction ends
    (schedules another transaction holds are skipped); each with `fired_at`, the database's time."""
    rows: list[asyncpg.Record] = await conn.fetch(QUERIES.due_schedules, limit)
    return rows


async def fire_schedule(
    conn: asyncpg.Connection, schedule_id: uuid.UUID, fire_time: datetime, next_run_at: datetime | None, job: NewJob
) -> Dispatch | None:
    """Create the queued job of one fire time and move the schedule to its next one; the job to
    publish, or None if that fire time already had its job."""
    row = await conn.fetchrow(
        QUERIES.fire_schedule,
        schedule_id,
        fire_time,
        next_run_at,
        job.id,
        job.engine,
        job.operation,
        job.priority,
        job.params,
        job.max_retries,
        job.retry_backoff_seconds,
        job.retry_backoff_max_seconds,
        job.timeout_seconds,
        job.tags,
        job.metadata,
        job.notify,
        job.retry_on,
        job.template,
    )
    return None if row is None else msgspec.convert(dict(row), Dispatch)


async def advance_schedule(conn: asyncpg.Connection, schedule_id: uuid.UUID, next_run_at: datetime | None) -> None:
    """Move a schedule to its next fire time without creating a job (None disables it)."""
    await conn.execute(QUERIES.advance_schedule, schedule_id, next_run_at)


async def seconds_until_next(db: Db) -> float | None:
    """Seconds until the next enabled schedule is due; None if none is enabled."""
    value = await db.fetchval(QUERIES.seconds_until_next_schedule)
    return None if value is None else float(value)
