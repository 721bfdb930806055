"""Which worker process runs a job, seen from outside: its id in the job's events, its pid."""

from __future__ import annotations

import os

import asyncpg
import httpx

from tests.support.api import events

#: Worker liveness sessions in PostgreSQL (one per live worker process).
LIVE_WORKERS = (
    "SELECT application_name FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name LIKE 'conveyor-worker:%'"
)


async def worker_of(http: httpx.AsyncClient, job_id: str) -> str:
    """The id of the worker that last started (or took over) a job."""
    started = [e for e in await events(http, job_id) if e["to_status"] == "running"]
    return str(started[-1]["data"]["worker_id"])


def pid_of(worker_id: str) -> int:
    """The process id in a worker id (`<host>-<pid>-<random>`)."""
    return int(worker_id.rsplit("-", 2)[-2])


def alive(pid: int) -> bool:
    """Whether a process exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def live_workers(pool: asyncpg.Pool) -> set[str]:
    """The ids of the workers whose liveness session is open."""
    return {row[0].removeprefix("conveyor-worker:") for row in await pool.fetch(LIVE_WORKERS)}
