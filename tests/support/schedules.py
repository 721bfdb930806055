"""Helpers for schedule tests: create schedules, list and count their jobs, check fire times."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from infra.db import connect
from tests.support.system import System, eventually

EVERY_SECOND = "*/1 * * * * *"
YEARLY = "0 0 1 1 *"


def parse(stamp: str) -> datetime:
    """An RFC 3339 time as the API writes it."""
    return datetime.fromisoformat(stamp)


def echo(value: Any = 1) -> dict[str, Any]:
    """A job body that runs at once."""
    return {"engine": "general", "operation": "echo", "params": {"value": value}}


async def create(client: httpx.AsyncClient, cron: str = EVERY_SECOND, **fields: Any) -> dict[str, Any]:
    """Create a schedule; the schedule."""
    response = await client.post("/v1/schedules", json={"name": "s", "cron": cron, "job": echo(), **fields})
    assert response.status_code == 201, response.text
    schedule: dict[str, Any] = response.json()
    return schedule


async def jobs_of(client: httpx.AsyncClient, schedule_id: str) -> list[dict[str, Any]]:
    """The jobs a schedule created, as `GET /v1/jobs?schedule_id=` lists them (every page)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"schedule_id": schedule_id, "limit": 2}
    while True:
        response = await client.get("/v1/jobs", params=params)
        assert response.status_code == 200, response.text
        found += response.json()["items"]
        if response.json()["next_cursor"] is None:
            return found
        params["cursor"] = response.json()["next_cursor"]


async def count_at_least(client: httpx.AsyncClient, schedule_id: str, count: int, timeout: float = 20) -> None:
    """Wait until a schedule has created `count` jobs."""

    async def enough() -> bool:
        response = await client.get("/v1/jobs", params={"schedule_id": schedule_id, "limit": count})
        return len(response.json()["items"]) >= count

    await eventually(enough, timeout=timeout, interval=0.1, message=f"{count} jobs of schedule {schedule_id}")


async def fired(database_url: str, schedule_id: str) -> list[asyncpg.Record]:
    """A schedule's jobs in PostgreSQL (id, fire time, created at), by fire time."""
    conn = await connect(database_url)
    try:
        query = "SELECT id, fire_time, created_at FROM jobs WHERE schedule_id = $1 ORDER BY fire_time"
        return await conn.fetch(query, uuid.UUID(schedule_id))
    finally:
        await conn.close()


def assert_each_fire_time_run_once(rows: list[asyncpg.Record]) -> None:
    """Every-second fire times: none has two jobs, and none is skipped. A second without a job
    of its own had passed when the job before it was made (that run covered it: coalesced),
    and no job was made for a second that had passed when an earlier job was made (replayed)."""
    times = [row["fire_time"] for row in rows]
    assert len(set(times)) == len(times) and all(t.microsecond == 0 for t in times)
    for earlier, later in itertools.pairwise(rows):
        if later["fire_time"] - earlier["fire_time"] > timedelta(seconds=1):
            assert later["fire_time"] - timedelta(seconds=1) <= earlier["created_at"], (earlier, later)
        assert earlier["created_at"] < later["fire_time"], (earlier, later)


def logged(system: System, name: str, event: str) -> list[dict[str, Any]]:
    """The log lines of one event from one process."""
    return [line for line in system.logs(name) if line.get("event") == event]
