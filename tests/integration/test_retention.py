"""Retention: the scheduler leader deletes finished jobs past `retention_days`, in short batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from infra import jobs
from infra.db import connect
from infra.jobs import NewJob
from infra.retention import Pruned, prune_finished
from infra.settings import load_settings
from infra.workflows import insert_workflow
from schemas.contracts import load_contracts
from schemas.ids import uuid7
from schemas.jobs import JobStatus
from schemas.workflows import WorkflowNodeSubmit, WorkflowSubmit
from services.workflows import build_workflow
from tests.support.system import System, eventually

TENANT = "retention"
COUNTS = {
    "jobs": "SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[])",
    "events": "SELECT count(*) FROM events WHERE job_id = ANY($1::uuid[])",
    "outbox": "SELECT count(*) FROM outbox WHERE job_id = ANY($1::uuid[])",
}


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh, migrated database."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


def new_job(status: JobStatus = JobStatus.QUEUED, run_at: datetime | None = None) -> NewJob:
    return NewJob(
        id=uuid7(), engine="general", operation="echo", status=status, priority=5, params={"value": 1}, max_retries=0,
        retry_backoff_seconds=1.0, retry_backoff_max_seconds=10.0, timeout_seconds=60.0, tags=[], metadata={},
        idempotency_key=None, run_at=run_at,
    )  # fmt: skip


async def finished_jobs(conn: asyncpg.Connection, status: JobStatus, count: int, *, days_ago: float) -> list[uuid.UUID]:
    """Jobs that went queued → (running →) `status`, their finish moved `days_ago` into the past."""
    rows = await jobs.insert_jobs(conn, TENANT, [new_job() for _ in range(count)])
    for row in rows:
        if status is JobStatus.CANCELLED:
            assert await jobs.cancel_job(conn, TENANT, row["id"]) is not None
            continue
        assert await jobs.claim_job(conn, row["id"], "w-test", lease_seconds=30, max_worker_losses=3) is not None
        error = None if status is JobStatus.SUCCEEDED else {"type": "E", "message": "m", "category": "permanent"}
        result = {"value": 1} if status is JobStatus.SUCCEEDED else None
        assert await jobs.finish_job(conn, row["id"], "w-test", status, result=result, error=error)
    ids = [row["id"] for row in rows]
    await conn.execute(
        "UPDATE jobs SET finished_at = now() - make_interval(secs => $2) WHERE id = ANY($1::uuid[])",
        ids,
        days_ago * 86_400,
    )
    return ids


async def unfinished_jobs(conn: asyncpg.Connection) -> list[uuid.UUID]:
    """A queued and a scheduled job, both created a month ago."""
    far = datetime.now(UTC) + timedelta(days=1)
    rows = await jobs.insert_jobs(conn, TENANT, [new_job(), new_job(JobStatus.SCHEDULED, run_at=far)])
    ids = [row["id"] for row in rows]
    await conn.execute("UPDATE jobs SET created_at = now() - interval '30 days' WHERE id = ANY($1::uuid[])", ids)
    return ids


async def count(conn: asyncpg.Connection, table: str, ids: list[uuid.UUID]) -> int:
    """Rows of `table` (jobs, events or outbox) that belong to these jobs."""
    value: int = await conn.fetchval(COUNTS[table], ids)
    return value


async def test_scheduler_prunes_old_finished_jobs_in_batches(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given 8 jobs that finished 8 days ago (succeeded, failed, cancelled), 2 that finished
    # within the 7 days kept, and 2 unfinished ones created a month ago; batches of 3 rows
    system = await make_system(
        retention_days=7, retention_batch_size=3, retention_interval_seconds=0.5, relay_grace_seconds=3600
    )
    conn = await connect(system.settings.database_url)
    try:
        old = [
            *await finished_jobs(conn, JobStatus.SUCCEEDED, 4, days_ago=8),
            *await finished_jobs(conn, JobStatus.FAILED, 2, days_ago=8),
            *await finished_jobs(conn, JobStatus.CANCELLED, 2, days_ago=8),
        ]
        recent = [
            *await finished_jobs(conn, JobStatus.SUCCEEDED, 1, days_ago=6),
            *await finished_jobs(conn, JobStatus.FAILED, 1, days_ago=0),
        ]
        unfinished = await unfinished_jobs(conn)
        kept = recent + unfinished
        assert await count(conn, "events", old) >= 2 * len(old) and await count(conn, "outbox", old) == len(old)

        # When the scheduler leads
        system.start_scheduler()

        # Then the old finished jobs go, with their events and outbox rows (ON DELETE CASCADE)
        async def pruned() -> bool:
            return await count(conn, "jobs", old) == 0

        await eventually(pruned, timeout=30, interval=0.1, message="old finished jobs to be pruned")
        assert await count(conn, "events", old) == 0 and await count(conn, "outbox", old) == 0
        # And recent and unfinished jobs stay, with their history
        assert await count(conn, "jobs", kept) == len(kept)
        assert await count(conn, "events", kept) >= len(kept)
        assert await count(conn, "outbox", kept) == len(kept) - 1  # a scheduled job has no publish intent yet

        # And the sweep said how many it deleted, in batches of at most 3 rows
        async def logged() -> list[tuple[int, int]]:
            lines = [line for line in system.logs("scheduler") if line.get("event") == "jobs_pruned"]
            return [(line["jobs"], line["batches"]) for line in lines]

        assert await eventually(logged, timeout=10, message="a jobs_pruned log line") == [(8, 3)]
    finally:
        await conn.close()


async def test_prune_finished_skips_rows_another_transaction_holds(conn: asyncpg.Connection, database_url: str) -> None:
    # Given 5 jobs past retention, one of them locked by another transaction
    old = [
        *await finished_jobs(conn, JobStatus.SUCCEEDED, 3, days_ago=30),
        *await finished_jobs(conn, JobStatus.FAILED, 1, days_ago=30),
        *await finished_jobs(conn, JobStatus.CANCELLED, 1, days_ago=30),
    ]
    other = await connect(database_url)
    try:
        async with other.transaction():
            await other.execute("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", old[0])

            # When a sweep runs in batches of 2 while that lock is held
            pruned = await prune_finished(conn, older_than_days=7, batch_size=2)

            # Then it deletes the others without waiting, and leaves the locked one for later
            assert pruned == Pruned(jobs=4, batches=2)
            assert await count(conn, "jobs", old) == 1
        # And the next sweep, after the lock is gone, takes it
        assert await prune_finished(conn, older_than_days=7, batch_size=2) == Pruned(jobs=1, batches=1)
        assert await count(conn, "jobs", old) == 0
    finally:
        await other.close()


async def finished_workflow_node(conn: asyncpg.Connection, job_id: uuid.UUID) -> None:
    """Run a workflow node's job to success, as a worker would."""
    assert await jobs.claim_job(conn, job_id, "w-test", lease_seconds=30, max_worker_losses=3) is not None
    assert await jobs.finish_job(conn, job_id, "w-test", JobStatus.SUCCEEDED, result={"value": 1})


async def test_workflows_are_pruned_whole_and_only_once_finished(conn: asyncpg.Connection) -> None:
    # Given a workflow that finished 8 days ago, and a running one whose first node did
    settings = load_settings()
    nodes = [WorkflowNodeSubmit(key="a", engine="general", operation="echo", params={"value": 1})]
    done = build_workflow(WorkflowSubmit(name="done", nodes=nodes), load_contracts(), settings)
    chain = [
        *nodes,
        WorkflowNodeSubmit(key="b", engine="general", operation="echo", params={"value": 2}, depends_on=["a"]),
    ]
    running = build_workflow(WorkflowSubmit(name="running", nodes=chain), load_contracts(), settings)
    for wf in (done, running):
        await insert_workflow(conn, TENANT, wf)
        await finished_workflow_node(conn, wf.nodes[0].job.id)
    await conn.execute("UPDATE workflows SET finished_at = now() - interval '8 days' WHERE finished_at IS NOT NULL")
    await conn.execute("UPDATE jobs SET finished_at = now() - interval '8 days' WHERE finished_at IS NOT NULL")
    # When a sweep runs
    pruned = await prune_finished(conn, older_than_days=7, batch_size=100)
    # Then the finished workflow goes with its nodes and jobs; the running one keeps all of its own
    assert pruned == Pruned(jobs=0, batches=1, workflows=1)
    remaining = await conn.fetch("SELECT name FROM workflows")
    assert [row["name"] for row in remaining] == ["running"]
    assert await conn.fetchval("SELECT count(*) FROM jobs WHERE workflow_id = $1", done.id) == 0
    assert await conn.fetchval("SELECT count(*) FROM workflow_nodes WHERE workflow_id = $1", done.id) == 0
    assert await conn.fetchval("SELECT count(*) FROM jobs WHERE workflow_id = $1", running.id) == 2


async def test_batch_keys_are_pruned_once_old_and_without_jobs(conn: asyncpg.Connection) -> None:
    # Given three batch keys 8 days old: one whose job is gone, one whose job is kept; and a new one
    kept = await jobs.insert_jobs(conn, TENANT, [new_job()])
    for key, ids in (("gone", [uuid7()]), ("kept", [kept[0]["id"]]), ("new", [uuid7()])):
        await conn.execute(
            "INSERT INTO job_batches (tenant, idempotency_key, body_hash, job_ids) VALUES ($1, $2, $3, $4)",
            TENANT, key, b"h", ids,
        )  # fmt: skip
    await conn.execute("UPDATE job_batches SET created_at = now() - interval '8 days' WHERE idempotency_key <> 'new'")
    # When a sweep runs
    pruned = await prune_finished(conn, older_than_days=7, batch_size=100)
    # Then only the old key without jobs is gone
    assert pruned == Pruned(batches=1, batch_keys=1)
    remaining = await conn.fetch("SELECT idempotency_key FROM job_batches ORDER BY idempotency_key")
    assert [row["idempotency_key"] for row in remaining] == ["kept", "new"]
