"""GET /v1/stats latency over a big history: a million finished jobs spread over the last seven
days, with their rollups.

The jobs are written with one INSERT … SELECT generate_series per day of history, with the
row triggers of events, outbox and workflows off (a million events would cost minutes and
measure nothing of stats) and the stats triggers off too. Their rollups are then made by the
same function the triggers call, conveyor_stats_record, fed for each job the three changes
its real life would have made: submitted at created_at, queued → running at started_at with
its wait, running → succeeded or failed at finished_at with its run time; then flushed into
the rollups as the scheduler does. That is the same rows the triggers and the scheduler
would have written, in a few statements instead of three million.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import asyncpg
import httpx

from infra import stats

TENANTS = 5
OPERATIONS = ("echo", "sleep", "flaky", "block")
DAYS = 7

INSERT_DAY = """
INSERT INTO jobs (id, tenant, engine, operation, status, priority, params, max_retries,
                  retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds,
                  created_at, started_at, finished_at, attempts, result, error)
SELECT gen_random_uuid(), 'tenant-' || (i % $3), 'general', ($4::text[])[1 + (i / 7) % cardinality($4::text[])],
       CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END::job_status, 5, '{}', 3, 1, 10, 3600,
       t.created, t.created + t.wait, t.created + t.wait + t.run, 1,
       CASE WHEN i % 10 <> 0 THEN '{"value": 1}'::jsonb END,
       CASE WHEN i % 10 = 0 THEN '{"type": "E", "message": "m", "category": "permanent"}'::jsonb END
FROM generate_series(1, $2) AS i
CROSS JOIN LATERAL (SELECT now() - make_interval(days => $1 + 1) + make_interval(secs => 86400.0 * i / $2),
                           make_interval(secs => 0.005 + 0.5 * random() ^ 2),
                           make_interval(secs => 0.05 + 2.0 * random() ^ 3)) AS t(created, wait, run)
"""

BACKFILL_DAY = """
SELECT conveyor_stats_record(ARRAY(
    SELECT ROW(j.tenant, j.engine, j.operation, c.at, c.submitted, c.started, c.outcome, c.run_ms, c.wait_ms,
               c.gone, c.came)::conveyor_job_change
    FROM jobs j
    CROSS JOIN LATERAL (VALUES
        (j.created_at, true, false, NULL::job_status, NULL::float8, NULL::float8, NULL::job_status,
         'queued'::job_status),
        (j.started_at, false, true, NULL, NULL, extract(epoch FROM j.started_at - j.created_at) * 1000,
         'queued', 'running'),
        (j.finished_at, false, false, j.status, extract(epoch FROM j.finished_at - j.started_at) * 1000, NULL,
         'running', j.status)) AS c(at, submitted, started, outcome, run_ms, wait_ms, gone, came)
    WHERE j.created_at >= now() - make_interval(days => $1 + 1) AND j.created_at < now() - make_interval(days => $1)
))
"""

TRIGGERS = ("jobs_inserted", "jobs_changed", "jobs_workflow_step", "jobs_stats_inserted")


async def fill(conn: asyncpg.Connection, jobs: int) -> float:
    """A history of `jobs` finished jobs over the last DAYS days, rollups included; seconds taken.

    The secondary indexes of `jobs` are dropped for the load and built again after it (one
    sort each instead of a million insertions); nothing stats reads uses them.
    """
    started = time.perf_counter()
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'jobs' AND indexname <> 'jobs_pkey'"
    )
    for index in indexes:  # DDL takes no parameters; the names are the catalog's
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    for trigger in TRIGGERS:
        await conn.execute(f"ALTER TABLE jobs DISABLE TRIGGER {trigger}")
    per_day = jobs // DAYS
    for day in range(DAYS):
        await conn.execute(INSERT_DAY, day, per_day, TENANTS, list(OPERATIONS))
        await conn.execute(BACKFILL_DAY, day)
        while await stats.flush(conn, limit=10_000) == 10_000:
            pass
    for trigger in TRIGGERS:
        await conn.execute(f"ALTER TABLE jobs ENABLE TRIGGER {trigger}")
    await conn.execute("SET maintenance_work_mem = '256MB'")
    for index in indexes:
        await conn.execute(index["indexdef"])
    for table in ("jobs", "job_stats", "job_stats_pending", "job_stats_totals"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


async def latencies(http: httpx.AsyncClient, params: dict[str, str], samples: int) -> dict[str, Any]:
    """p50 and p95 of GET /v1/stats with these parameters, in ms (after a few warm-up requests)."""
    times = []
    for i in range(samples + 5):
        sent = time.perf_counter()
        response = await http.get("/v1/stats", params=params)
        elapsed = (time.perf_counter() - sent) * 1000
        assert response.status_code == 200, response.text
        if i >= 5:
            times.append(elapsed)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": times[int(len(times) * 0.95) - 1],
        "items": len(response.json()["items"]),
    }
