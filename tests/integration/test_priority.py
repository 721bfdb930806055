"""Priority: a critical job submitted behind a backlog of low ones starts almost at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.support.api import wait_for_status
from tests.support.system import System, eventually


async def test_critical_job_overtakes_a_backlog_of_300_low_ones(make_system: Callable[..., Awaitable[System]]) -> None:
    # Given one worker of 4 threads on `general`, busy with a backlog of 300 low-priority jobs
    system = await make_system()
    system.start_worker(threads=4, queues=["general"])
    system.start_gateway()
    system.wait_for_consumers("general")
    async with system.client(await system.api_key("prio")) as http:
        low = [{"engine": "general", "operation": "sleep", "params": {"seconds": 0.05}, "priority": "low"}] * 300
        response = await http.post("/v1/jobs/batch", json={"jobs": low})
        assert response.status_code == 202
        low_ids = [job["id"] for job in response.json()["jobs"]]
        await wait_for_status(http, low_ids[0], "running", "succeeded")
        # When a critical job is submitted last
        critical = (await http.post("/v1/jobs", json={**low[0], "priority": "critical"})).json()
        assert critical["priority"] == 9
        await wait_for_status(http, critical["id"], "succeeded", timeout=30)

    # Then it started before the 20th low job did
    pool = await system.pool()
    try:
        started_before = await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE priority = 1 AND started_at < (SELECT started_at FROM jobs WHERE id = $1)",
            critical["id"],
        )
        waiting_when_submitted = await pool.fetchval(
            "SELECT count(*) FROM jobs WHERE priority = 1"
            " AND (started_at IS NULL OR started_at > (SELECT created_at FROM jobs WHERE id = $1))",
            critical["id"],
        )
    finally:
        await pool.close()
    print(f"low jobs started before the critical one: {started_before}; waiting when it came: {waiting_when_submitted}")
    assert started_before < 20
    assert waiting_when_submitted > 200, "the backlog drained before the critical job arrived; the test proved nothing"

    async def drained() -> bool:
        return system.queue_depth("general") == 0

    await eventually(drained, timeout=60, interval=0.5, message="the backlog to drain")
