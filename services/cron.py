"""Cron schedules on the leading scheduler: each due fire time becomes one queued job.

A schedule's `next_run_at` is the fire time its next job carries. The leader takes due
schedules with `FOR UPDATE SKIP LOCKED` and, in one transaction per batch, inserts each one's
job (a UNIQUE (schedule_id, fire_time) index refuses a second job for a fire time) and moves
it to its first fire time after now. Fire times that passed while no scheduler ran are so
coalesced into the one run that finds them due, not replayed one by one.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import asyncpg
import msgspec
import structlog

from infra import schedules
from infra.db import UNAVAILABLE
from infra.dispatch import Dispatcher
from infra.jobs import Dispatch
from infra.settings import Settings
from schemas.contracts import Contracts, load_contracts
from schemas.jobs import JobSubmit
from schemas.schedules import CronError, cron_trigger, next_fire_time
from services.submit import SubmitError, build_job

log = structlog.get_logger("conveyor.cron")

CHANNEL = "conveyor_schedules"
FIRE_BATCH = 100


async def run_schedules(dispatcher: Dispatcher, settings: Settings, changed: asyncio.Event) -> None:
    """Fire schedules as their times come, until cancelled; sleep until the next one is due,
    `changed` is set (the leader's NOTIFY listener on CHANNEL sets it), or a second passes."""
    registry = load_contracts(diagnostics=settings.diagnostics)
    while True:
        changed.clear()
        wait = await _fire_all_due(dispatcher, registry, settings)
        timeout = 1.0 if wait is None else min(max(wait, 0.0), 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)


async def _fire_all_due(dispatcher: Dispatcher, registry: Contracts, settings: Settings) -> float | None:
    """Fire every due schedule and publish the jobs; seconds until the next is due (None: unknown)."""
    try:
        while True:
            fired, count = await fire_due(dispatcher.pool, registry, settings)
            dispatcher.send(fired)
            if count < FIRE_BATCH:
                return await schedules.seconds_until_next(dispatcher.pool)
    except UNAVAILABLE as exc:
        log.warning("database_unavailable", during="fire schedules", error=str(exc) or type(exc).__name__)
    except Exception:
        log.exception("maintenance_failed", task="schedules")
    return None


async def fire_due(pool: asyncpg.Pool, registry: Contracts, settings: Settings) -> tuple[list[Dispatch], int]:
    """One batch of due schedules fired in one transaction; the jobs to publish, and how many
    schedules were due."""
    async with pool.acquire() as conn, conn.transaction():
        due = await schedules.due_schedules(conn, limit=FIRE_BATCH)
        fired = [await fire_one(conn, row, registry, settings) for row in due]
    return [job for job in fired if job is not None], len(due)


async def fire_one(
    conn: asyncpg.Connection, row: asyncpg.Record, registry: Contracts, settings: Settings
) -> Dispatch | None:
    """The job of one due schedule's fire time (None if it has one already, or cannot be built),
    and the schedule moved to its first fire time after now."""
    fire_time, sid = row["next_run_at"], row["id"]
    try:
        trigger = cron_trigger(row["cron"], row["timezone"])
    except CronError as exc:  # no longer parses (its time zone left the database): disabled
        await _refuse(conn, row, None, exc)
        return None
    next_run_at = next_fire_time(trigger, max(row["fired_at"], fire_time))
    try:
        job = build_job(msgspec.convert(row["job"], JobSubmit), registry, settings, at="job")
    except (SubmitError, msgspec.ValidationError) as exc:  # its operation changed since
        await _refuse(conn, row, next_run_at, exc)
        return None
    dispatch = await schedules.fire_schedule(conn, sid, fire_time, next_run_at, job)
    if dispatch is None:
        log.warning("schedule_fire_time_taken", schedule_id=str(sid), fire_time=fire_time.isoformat())
        return None
    log.info("schedule_fired", schedule_id=str(sid), fire_time=fire_time.isoformat(), job_id=str(dispatch.id))
    return dispatch


async def _refuse(conn: asyncpg.Connection, row: asyncpg.Record, next_run_at: datetime | None, exc: Exception) -> None:
    """Skip a fire time whose job cannot be made, loudly; move on to `next_run_at`."""
    fire_time = row["next_run_at"].isoformat()
    log.error("schedule_fire_refused", schedule_id=str(row["id"]), fire_time=fire_time, error=str(exc))
    await schedules.advance_schedule(conn, row["id"], next_run_at)
