"""Stale running jobs: a job whose worker stops heartbeating runs again elsewhere, and one that
keeps losing its worker fails as `worker_lost` instead of looping forever."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import httpx

from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.system import System, eventually, wait_until
from tests.support.workers import live_workers, worker_of

MakeSystem = Callable[..., Awaitable[System]]


async def running_on_another_worker(http: httpx.AsyncClient, job_id: str, previous: str | None) -> str:
    """Wait until the job runs on a worker other than `previous`; that worker's id."""

    async def taken() -> str | None:
        if (await get_job(http, job_id))["status"] != "running":
            return None
        worker = await worker_of(http, job_id)
        return worker if worker != previous else None

    found: str = await eventually(taken, timeout=30, interval=0.1, message=f"job {job_id} running on a new worker")
    return found


async def test_job_whose_worker_keeps_dying_fails_as_worker_lost(make_system: MakeSystem) -> None:
    # Given a job allowed to lose its worker 3 times; no scheduler, so only the redelivered
    # message brings it back each time
    system = await make_system(max_worker_losses=3)
    system.start_gateway()
    async with system.client(await system.api_key("lost")) as http:
        job = await submit(http, "sleep", {"seconds": 60})
        worker = None
        # When each worker that runs it is killed (SIGKILL) mid-job, three times
        for loss in range(3):
            system.start_worker(f"worker-{loss}", queues=["general"], threads=1)
            worker = await running_on_another_worker(http, job["id"], worker)
            system.stop(f"worker-{loss}", sig=signal.SIGKILL)
        system.start_worker("last", queues=["general"], threads=1)

        # Then the next worker fails it as worker_lost instead of running it a fourth time
        done = await wait_for_status(http, job["id"], "failed", timeout=30)
        assert done["error"]["category"] == "worker_lost" and done["attempts"] == 3
        history = await events(http, job["id"])
        assert sum(1 for e in history if e["to_status"] == "running") == 3
        # And its message is dead-lettered, not requeued: nothing loops
        wait_until(lambda: system.dead_letters() == [job["id"]], timeout=10, message="the dead-lettered message")
        assert system.queue_depth("general") == 0
        assert (await get_job(http, job["id"]))["status"] == "failed"


async def test_running_job_of_a_frozen_worker_is_rescued_after_its_lease(make_system: MakeSystem) -> None:
    # Given a scheduler, a 2-second lease, and a worker (one thread, one prefetched message)
    # running a 3-second job
    system = await make_system(lease_seconds=2)
    system.start_scheduler()
    system.start_gateway()
    system.start_worker("frozen", queues=["general"], threads=1, worker_prefetch=1)
    system.wait_for_consumers("general")
    pool = await system.pool()
    try:
        async with system.client(await system.api_key("frozen")) as http:
            job = await submit(http, "sleep", {"seconds": 3})
            frozen = await running_on_another_worker(http, job["id"], None)

            # When that worker freezes (SIGSTOP: no heartbeats, yet its sessions stay open)
            # and a healthy worker starts
            system.processes["frozen"].send_signal(signal.SIGSTOP)
            system.start_worker("healthy", queues=["general"], threads=1)

            # Then the scheduler puts the job back once the lease ran out; the healthy worker runs it
            healthy = await running_on_another_worker(http, job["id"], frozen)
            done = await wait_for_status(http, job["id"], "succeeded", timeout=30)
            assert frozen in await live_workers(pool), "rescued on a stale heartbeat, not a closed session"
            assert done["attempts"] == 2 and await worker_of(http, job["id"]) == healthy
            moves = [(e["from_status"], e["to_status"]) for e in await events(http, job["id"])]
            assert ("running", "queued") in moves
            assert await pool.fetchval("SELECT worker_losses FROM jobs WHERE id = $1::uuid", job["id"]) == 1

            # And when the frozen worker resumes, it learns it lost the job and records nothing
            system.processes["frozen"].send_signal(signal.SIGCONT)
            wait_until(
                lambda: any(line["event"] == "job_lease_lost" for line in system.logs("frozen")),
                timeout=15,
                message="the resumed worker to give up the job",
            )
            history = await events(http, job["id"])
            assert sum(1 for e in history if e["to_status"] == "succeeded") == 1
            assert (await get_job(http, job["id"]))["result"] == {"slept": 3.0}
    finally:
        await pool.close()
