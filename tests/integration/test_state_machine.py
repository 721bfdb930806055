"""The job state machine in PostgreSQL: the transition table, its trigger, and guarded claims."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from infra import jobs
from infra.db import connect
from infra.jobs import NewJob
from schemas.ids import uuid7
from schemas.jobs import TRANSITIONS, JobStatus, JobView


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh, migrated database."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


def new_job(status: JobStatus = JobStatus.QUEUED) -> NewJob:
    return NewJob(
        id=uuid7(), engine="general", operation="echo", status=status, priority=5, params={"value": 1}, max_retries=3,
        retry_backoff_seconds=1.0, retry_backoff_max_seconds=10.0, timeout_seconds=60.0, tags=[], metadata={},
        idempotency_key=None,
    )  # fmt: skip


async def test_database_transition_table_equals_the_schema(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT from_status, to_status FROM job_transitions")
    in_database = {(JobStatus(r["from_status"]), JobStatus(r["to_status"])) for r in rows}
    in_schema = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    assert in_database == in_schema


async def test_trigger_refuses_every_transition_not_in_the_table(conn: asyncpg.Connection) -> None:
    # Given a job in each status, When moved to every other status, Then only listed moves pass
    for source, target in itertools.product(JobStatus, JobStatus):
        if source == target:
            continue
        [row] = await jobs.insert_jobs(conn, "t", [new_job(source)])
        move = conn.execute("UPDATE jobs SET status = $2 WHERE id = $1", row["id"], target.value)
        if target in TRANSITIONS[source]:
            await move
        else:
            with pytest.raises(asyncpg.CheckViolationError, match=f"cannot go from {source} to {target}"):
                await move


async def test_every_change_appends_an_event_and_queued_writes_an_outbox_row(conn: asyncpg.Connection) -> None:
    [row] = await jobs.insert_jobs(conn, "t", [new_job()])
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", row["id"]) == 1
    claimed = await jobs.claim_job(conn, row["id"], "w1", lease_seconds=30, max_worker_losses=3)
    assert claimed is not None and claimed["status"] == "running" and claimed["attempts"] == 1
    await jobs.finish_job(
        conn, row["id"], "w1", JobStatus.FAILED, error={"type": "E", "message": "m", "category": "permanent"}
    )
    await jobs.retry_job(conn, "t", row["id"])
    kinds = [
        (r["type"], r["status"], r["attempts"])
        for r in await conn.fetch(
            "SELECT type, data ->> 'status' AS status, (data ->> 'attempts')::int AS attempts"
            " FROM events WHERE job_id = $1 ORDER BY id",
            row["id"],
        )
    ]
    assert kinds == [
        ("job.queued", "queued", 0),
        ("job.started", "running", 1),
        ("job.failed", "failed", 1),
        ("job.queued", "queued", 1),
    ]
    attempts = sorted(r["attempt"] for r in await conn.fetch("SELECT attempt FROM outbox WHERE job_id = $1", row["id"]))
    assert attempts == [0, 1]


async def test_each_event_holds_the_jobs_view_as_the_sql_functions_build_it(conn: asyncpg.Connection) -> None:
    # Given a job taken through every kind of change (the trigger writes its view inline)
    [row] = await jobs.insert_jobs(conn, "t", [new_job()])
    await jobs.claim_job(conn, row["id"], "w1", lease_seconds=30, max_worker_losses=3)
    await jobs.finish_job(conn, row["id"], "w1", JobStatus.SUCCEEDED, result={"value": 1})
    # Then each event's type and data are what conveyor_job_event_type and conveyor_job_view
    # make of the job as it is now, and the data holds exactly JobView's stored fields
    last = await conn.fetchrow(
        "SELECT e.type = conveyor_job_event_type(j.status) AS same_type, e.data = conveyor_job_view(j) AS same_data,"
        " e.data FROM events e JOIN jobs j ON j.id = e.job_id WHERE e.job_id = $1 ORDER BY e.id DESC LIMIT 1",
        row["id"],
    )
    assert last["same_type"] and last["same_data"]
    computed = {"waiting_reason", "waiting_on", "eta"}
    assert set(last["data"]) == {f.name for f in msgspec.structs.fields(JobView)} - computed


async def test_two_workers_claiming_at_once_one_wins(database_url: str, conn: asyncpg.Connection) -> None:
    # Given a queued job whose message was delivered twice, to two workers holding live sessions
    [row] = await jobs.insert_jobs(conn, "t", [new_job()])
    sessions = [await connect(database_url, application_name=f"conveyor-worker:w{i}") for i in range(2)]
    try:
        # When both claim it at the same moment
        results = await asyncio.gather(
            *(
                jobs.claim_job(s, row["id"], f"w{i}", lease_seconds=30, max_worker_losses=3)
                for i, s in enumerate(sessions)
            )
        )
        # Then exactly one gets it; the other sees a job a live worker owns
        winners = [r for r in results if r is not None]
        assert len(winners) == 1 and winners[0]["attempts"] == 1
        loser = f"w{results.index(None)}"
        assert await jobs.claim_job(conn, row["id"], loser, lease_seconds=30, max_worker_losses=3) is None
    finally:
        for session in sessions:
            await session.close()


async def test_a_running_job_whose_worker_session_is_gone_is_taken_over(
    database_url: str, conn: asyncpg.Connection
) -> None:
    [row] = await jobs.insert_jobs(conn, "t", [new_job()])
    owner = await connect(database_url, application_name="conveyor-worker:w-dead")
    assert await jobs.claim_job(conn, row["id"], "w-dead", lease_seconds=30, max_worker_losses=3) is not None
    assert await jobs.claim_job(conn, row["id"], "w-other", lease_seconds=30, max_worker_losses=3) is None
    # When the owner's session ends (its process died)
    await owner.close()
    taken = await jobs.claim_job(conn, row["id"], "w-other", lease_seconds=30, max_worker_losses=3)
    # Then another worker takes it over, and the old owner can no longer record an outcome
    assert taken is not None and taken["worker_id"] == "w-other" and taken["worker_losses"] == 1
    assert await jobs.finish_job(conn, row["id"], "w-dead", JobStatus.SUCCEEDED, result={"value": 1}) is False
    assert await jobs.finish_job(conn, row["id"], "w-other", JobStatus.SUCCEEDED, result={"value": 1}) is True
    assert await conn.fetchval("SELECT count(*) FROM events WHERE job_id = $1 AND type = 'job.started'", row["id"]) == 2


async def test_a_job_that_keeps_losing_its_worker_fails_as_worker_lost(conn: asyncpg.Connection) -> None:
    [row] = await jobs.insert_jobs(conn, "t", [new_job()])
    # Given three attempts whose workers all died (no live session), When the next worker claims it
    for attempt in range(4):
        claimed = await jobs.claim_job(conn, row["id"], f"gone-{attempt}", lease_seconds=30, max_worker_losses=3)
        assert claimed is not None
    # Then the third loss ends it instead of running it a fourth time
    assert claimed["status"] == "failed" and claimed["error"]["category"] == "worker_lost"
    assert claimed["attempts"] == 3 and claimed["worker_losses"] == 3


async def test_rescue_requeues_orphans_and_settles_cancel_requests(conn: asyncpg.Connection) -> None:
    [orphan, cancelled] = await jobs.insert_jobs(conn, "t", [new_job(), new_job()])
    for row in (orphan, cancelled):
        await jobs.claim_job(conn, row["id"], "w-gone", lease_seconds=30, max_worker_losses=3)
    await conn.execute("UPDATE jobs SET cancel_requested_at = now() WHERE id = $1", cancelled["id"])
    rescued = {
        r["id"]: r["status"] for r in await jobs.rescue_orphans(conn, lease_seconds=30, max_worker_losses=3, limit=10)
    }
    assert rescued == {orphan["id"]: "queued", cancelled["id"]: "cancelled"}
    assert await conn.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", orphan["id"]) == 2


async def test_due_retries_are_promoted_in_order(conn: asyncpg.Connection) -> None:
    rows = await jobs.insert_jobs(conn, "t", [new_job(), new_job()])
    for row in rows:
        await jobs.claim_job(conn, row["id"], "w", lease_seconds=30, max_worker_losses=3)
    await jobs.finish_job(conn, rows[0]["id"], "w", JobStatus.RETRYING, retry_in=0.0)
    await jobs.finish_job(conn, rows[1]["id"], "w", JobStatus.RETRYING, retry_in=3600.0)
    assert [d.id for d in await jobs.promote_due(conn, limit=10)] == [rows[0]["id"]]
    wait = await jobs.seconds_until_due(conn)
    assert wait is not None and 3500 < wait <= 3600


async def test_cancel_of_unknown_job_is_none(conn: asyncpg.Connection) -> None:
    assert await jobs.cancel_job(conn, "t", uuid.uuid4()) is None


async def test_a_delivery_whose_job_fails_outside_its_operation_is_failed_with_it(conn: asyncpg.Connection) -> None:
    # Given a webhook subscription and a job whose success makes a delivery
    await conn.execute(
        "INSERT INTO subscriptions (id, tenant, channel, url, secret, events)"
        " VALUES ($1, 't', 'webhook', 'https://hooks.example.com/', 'whsec_AAAA', '{job.succeeded}')",
        uuid7(),
    )
    [row] = await jobs.insert_jobs(conn, "t", [new_job()])
    await jobs.claim_job(conn, row["id"], "w1", lease_seconds=30, max_worker_losses=3)
    await jobs.finish_job(conn, row["id"], "w1", JobStatus.SUCCEEDED, result={"value": 1})
    delivery = await conn.fetchrow("SELECT id, job_id, status FROM deliveries")
    assert delivery["status"] == "pending"
    # When its notifications job fails without the operation recording an outcome (lost workers)
    await conn.execute("UPDATE jobs SET status = 'running', worker_id = 'w2' WHERE id = $1", delivery["job_id"])
    await conn.execute("UPDATE jobs SET status = 'failed' WHERE id = $1", delivery["job_id"])
    # Then the delivery is failed too, not left pending with nothing to send it
    assert await conn.fetchval("SELECT status FROM deliveries WHERE id = $1", delivery["id"]) == "failed"
