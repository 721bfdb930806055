"""A worker killed with SIGKILL mid-job: its jobs are taken over and succeed exactly once."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

from tests.support.api import events, wait_for_status
from tests.support.system import System, eventually
from tests.support.workers import LIVE_WORKERS, pid_of, worker_of


async def test_killed_worker_is_restarted_and_its_jobs_finish_once(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given `conveyor worker` (one process, 4 threads) running 6 jobs of 2 s
    system = await make_system()
    system.start_supervised_all()
    pool = await system.pool()
    try:
        async with system.client(await system.api_key("crash")) as http:
            body = {"engine": "general", "operation": "sleep", "params": {"seconds": 2}}
            jobs = (await http.post("/v1/jobs/batch", json={"jobs": [body] * 6})).json()["jobs"]
            running = await wait_for_status(http, jobs[0]["id"], "running")
            victim = await worker_of(http, running["id"])
            before = {row[0] for row in await pool.fetch(LIVE_WORKERS)}

            # When that worker process is killed with SIGKILL mid-job
            os.kill(pid_of(victim), signal.SIGKILL)

            # Then `conveyor worker` starts a new worker process
            async def replaced() -> set[str]:
                return {row[0] for row in await pool.fetch(LIVE_WORKERS)} - before

            await eventually(replaced, timeout=30, interval=0.2, message="a new worker process")
            # And every job succeeds, exactly once, none left running
            for job in jobs:
                done = await wait_for_status(http, job["id"], "succeeded", timeout=60)
                successes = [e for e in await events(http, job["id"]) if e["type"] == "job.succeeded"]
                assert len(successes) == 1, successes
                assert done["result"] == {"slept": 2.0}
            taken = await events(http, running["id"])
            # taken over (started again at once) or given back to the queue and started again
            assert [e["type"] for e in taken].count("job.started") == 2
            assert (await http.get(f"/v1/jobs/{running['id']}")).json()["attempts"] == 2
        assert await pool.fetchval("SELECT count(*) FROM jobs WHERE status = 'running'") == 0
    finally:
        await pool.close()
