"""The rollups of migration 0005 as the jobs triggers and the flush write them: the same
buckets as schemas/stats.py, nothing for updates that change no status, gauges that follow
every job whether flushed or not, and retention of old rows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from infra import jobs, stats
from infra.db import connect
from infra.retention import prune_stats
from schemas.jobs import JobStatus
from schemas.stats import bucket_of
from tests.integration.test_retention import new_job

TENANT = "rollups"
SNAPSHOT = "SELECT * FROM job_stats ORDER BY span, bucket, tenant, engine, operation"
GAUGES = """
SELECT sum(submitted) AS submitted, sum(queued) AS queued, sum(running) AS running, sum(scheduled) AS scheduled,
       sum(retrying) AS retrying, sum(succeeded) AS succeeded
FROM (SELECT tenant, submitted, queued, running, scheduled, retrying, succeeded FROM job_stats_totals
      UNION ALL
      SELECT tenant, submitted, queued, running, scheduled, retrying, succeeded FROM job_stats_pending) AS live
WHERE tenant = $1
"""


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh, migrated database."""
    connection = await connect(database_url)
    yield connection
    await connection.close()


async def test_rollup_bucket_function_matches_the_schemas_rule(conn: asyncpg.Connection) -> None:
    values = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 17.3, 200.0, 215.0, 999.9, 86_400_000.0, 1e12]
    got = await conn.fetchval("SELECT array_agg(conveyor_stats_bucket(v) ORDER BY o) FROM unnest($1::float8[]) "
                              "WITH ORDINALITY AS u(v, o)", values)  # fmt: skip
    assert got == [bucket_of(v) for v in values]


async def test_rollups_ignore_updates_that_change_no_status(conn: asyncpg.Connection) -> None:
    # Given running jobs
    rows = await jobs.insert_jobs(conn, TENANT, [new_job() for _ in range(5)])
    ids = [row["id"] for row in rows]
    claimed = await jobs.claim_jobs(conn, ids, "w-test", lease_seconds=30, max_worker_losses=3)
    assert len(claimed.claimed) == 5
    pending = await conn.fetchval("SELECT count(*) FROM job_stats_pending")

    # When their worker beats and reports progress
    beats = await jobs.heartbeat(conn, "w-test", [(job_id, 0.5, "half") for job_id in ids])

    # Then no change was recorded
    assert len(beats) == 5
    assert await conn.fetchval("SELECT count(*) FROM job_stats_pending") == pending


async def test_rollup_gauges_follow_jobs_through_their_states(conn: asyncpg.Connection) -> None:
    # Given jobs submitted, one of them claimed and finished
    rows = await jobs.insert_jobs(conn, TENANT, [new_job() for _ in range(3)])
    assert dict(await conn.fetchrow(GAUGES, TENANT)) == {
        "submitted": 3, "queued": 3, "running": 0, "scheduled": 0, "retrying": 0, "succeeded": 0,
    }  # fmt: skip
    first = rows[0]["id"]
    await jobs.claim_jobs(conn, [first], "w-test", lease_seconds=30, max_worker_losses=3)
    assert (await conn.fetchrow(GAUGES, TENANT))["running"] == 1
    assert await jobs.finish_job(conn, first, "w-test", JobStatus.SUCCEEDED, result={"value": 1})

    # When an unfinished job is deleted
    await conn.execute("DELETE FROM jobs WHERE id = $1", rows[1]["id"])

    # Then the gauges count what is left, the counters what happened, before and after a flush
    expected = {"submitted": 3, "queued": 1, "running": 0, "scheduled": 0, "retrying": 0, "succeeded": 1}
    assert dict(await conn.fetchrow(GAUGES, TENANT)) == expected
    assert await stats.flush(conn, limit=2) == 2
    assert dict(await conn.fetchrow(GAUGES, TENANT)) == expected
    assert await stats.flush(conn, limit=100) > 0
    assert await conn.fetchval("SELECT count(*) FROM job_stats_pending") == 0
    assert dict(await conn.fetchrow(GAUGES, TENANT)) == expected
    minute = await conn.fetchrow("SELECT * FROM job_stats WHERE span = 'minute' AND tenant = $1", TENANT)
    assert (minute["submitted"], minute["started"], minute["succeeded"]) == (3, 1, 1)
    assert sum(minute["run_hist"]) == 1 and sum(minute["wait_hist"]) == 1


async def test_prune_stats_deletes_old_rollups_and_keeps_totals(conn: asyncpg.Connection) -> None:
    # Given rollups of now, and the same moved ten days back
    await jobs.insert_jobs(conn, TENANT, [new_job() for _ in range(2)])
    await stats.flush(conn, limit=100)
    await conn.execute(
        "INSERT INTO job_stats SELECT span, bucket - interval '10 days', tenant, engine, operation, submitted,"
        " started, succeeded, failed, cancelled, retried, run_ms, wait_ms, run_hist, wait_hist FROM job_stats"
    )
    assert await conn.fetchval("SELECT count(*) FROM job_stats") == 8  # 4 spans, now and then

    # When retention runs in batches of 2
    deleted = await prune_stats(conn, older_than_days=8, batch_size=2)

    # Then the old rows are gone, today's and the totals stay
    assert deleted == 4
    assert await conn.fetchval("SELECT count(*) FROM job_stats WHERE bucket > now() - interval '1 day'") == 4
    assert await conn.fetchval("SELECT count(*) FROM job_stats") == 4
    assert (await conn.fetchrow(GAUGES, TENANT))["submitted"] == 2
