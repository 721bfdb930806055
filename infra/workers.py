"""The registry of worker processes: each says it is alive a few times a second."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from infra.db import Db
from infra.sql import QUERIES
from schemas.operations import LeaderView, WorkerView

#: How the scheduler names its leader session (followed by its id).
LEADER_PREFIX = "conveyor-scheduler-leader:"


async def register(db: Db, worker_id: str, *, host: str, pid: int, queues: Sequence[str], threads: int) -> None:
    """Say that this worker process is alive (registering it the first time)."""
    await db.execute(QUERIES.register_worker, worker_id, host, pid, list(queues), threads)


async def unregister(db: Db, worker_id: str) -> None:
    """Forget a worker process that stopped."""
    await db.execute(QUERIES.unregister_worker, worker_id)


async def live_workers(db: Db, *, lease_seconds: float) -> list[WorkerView]:
    """Worker processes seen within the lease, with the ids of the jobs each runs."""
    rows = await db.fetch(QUERIES.live_workers, lease_seconds)
    return [
        WorkerView(
            id=row["id"],
            host=row["host"],
            pid=row["pid"],
            queues=list(row["queues"]),
            threads=row["threads"],
            started_at=row["started_at"],
            last_seen=row["last_seen"],
            running_job_ids=[str(job_id) for job_id in row["running_job_ids"]],
        )
        for row in rows
    ]


def threads_per_queue(workers: Sequence[WorkerView]) -> dict[str, int]:
    """Worker threads consuming each queue (by engine name)."""
    threads: dict[str, int] = {}
    for worker in workers:
        for queue in worker.queues:
            threads[queue] = threads.get(queue, 0) + worker.threads
    return threads


def processes_per_queue(workers: Sequence[WorkerView]) -> dict[str, int]:
    """Worker processes consuming each queue (by engine name)."""
    processes: dict[str, int] = {}
    for worker in workers:
        for queue in worker.queues:
            processes[queue] = processes.get(queue, 0) + 1
    return processes


async def scheduler_leader(db: Db) -> LeaderView | None:
    """The scheduler that leads now, or None if none does."""
    row = await db.fetchrow(QUERIES.scheduler_leader)
    if row is None:
        return None
    since: datetime | None = row["backend_start"]
    return LeaderView(id=row["application_name"].removeprefix(LEADER_PREFIX), since=since)
