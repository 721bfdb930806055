"""A worker told to stop (SIGTERM) drains: running jobs finish within the shutdown timeout, or
are released to run again elsewhere; nothing is lost and nothing stays `running`."""

from __future__ import annotations

import signal
import time
from collections.abc import Awaitable, Callable

from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.system import System, wait_until
from tests.support.workers import alive, pid_of, worker_of

MakeSystem = Callable[..., Awaitable[System]]
RUNNING = "SELECT count(*) FROM jobs WHERE status = 'running'"


async def test_worker_sigterm_lets_a_job_shorter_than_the_timeout_finish(make_system: MakeSystem) -> None:
    # Given a worker (shutdown timeout 15 s) running a 2-second job
    system = await make_system(shutdown_timeout_seconds=15)
    system.start_worker(queues=["general"], threads=2)
    system.start_gateway()
    system.wait_for_consumers("general")
    async with system.client(await system.api_key("drain")) as http:
        job = await submit(http, "sleep", {"seconds": 2})
        await wait_for_status(http, job["id"], "running")

        # When the worker gets SIGTERM
        started = time.monotonic()
        code = system.stop("worker", sig=signal.SIGTERM, timeout=30)

        # Then it exits cleanly once the job is done, well before the timeout
        assert code == 0 and time.monotonic() - started < 15
        # And the job succeeded on its first attempt, never released or taken over
        done = await get_job(http, job["id"])
        assert (done["status"], done["attempts"], done["result"]) == ("succeeded", 1, {"slept": 2.0})
        history = await events(http, job["id"])
        assert [e["to_status"] for e in history] == ["queued", "running", "succeeded"]
    pool = await system.pool()
    try:
        assert await pool.fetchval(RUNNING) == 0
    finally:
        await pool.close()


async def test_worker_sigterm_releases_a_job_longer_than_the_timeout_to_another_worker(
    make_system: MakeSystem,
) -> None:
    # Given two workers (shutdown timeout 1 s), the first running a 4-second job; no scheduler,
    # so the job can only come back by the stopping worker's own re-publish
    system = await make_system(shutdown_timeout_seconds=1)
    system.start_worker("first", queues=["general"], threads=1)
    system.start_gateway()
    system.wait_for_consumers("general")
    async with system.client(await system.api_key("drain")) as http:
        job = await submit(http, "sleep", {"seconds": 4})
        await wait_for_status(http, job["id"], "running")
        first = await worker_of(http, job["id"])
        system.start_worker("second", queues=["general"], threads=1)
        system.wait_for_consumers("general", count=2)

        # When the first worker gets SIGTERM
        started = time.monotonic()
        code = system.stop("first", sig=signal.SIGTERM, timeout=30)

        # Then it exits cleanly soon after the timeout, having released the job
        assert code == 0 and time.monotonic() - started < 6
        assert any(line["event"] == "job_released" for line in system.logs("first"))
        # And the second worker runs it to success, exactly once
        done = await wait_for_status(http, job["id"], "succeeded", timeout=30)
        assert done["attempts"] == 2 and done["result"] == {"slept": 4.0}
        assert await worker_of(http, job["id"]) != first
        moves = [(e["from_status"], e["to_status"]) for e in await events(http, job["id"])]
        assert moves == [(None, "queued"), ("queued", "running"), ("running", "queued"), ("queued", "running"),
                         ("running", "succeeded")]  # fmt: skip
    pool = await system.pool()
    try:
        # And it counts as released, not as a lost worker; nothing stays running or unpublished
        assert await pool.fetchval("SELECT worker_losses FROM jobs WHERE id = $1::uuid", job["id"]) == 0
        # And the released attempt spent none of the job's retries
        assert await pool.fetchval("SELECT attempts - retry_base FROM jobs WHERE id = $1::uuid", job["id"]) == 1
        assert await pool.fetchval(RUNNING) == 0
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.close()


async def test_conveyor_worker_passes_sigterm_on_and_waits_for_the_drain(make_system: MakeSystem) -> None:
    # Given `conveyor worker` (one worker process, shutdown timeout 15 s) running a 2-second job
    system = await make_system(shutdown_timeout_seconds=15)
    system.start_supervised_workers(queues=["general"], processes=1, threads=2)
    system.start_gateway()
    system.wait_for_consumers("general")
    async with system.client(await system.api_key("drain")) as http:
        job = await submit(http, "sleep", {"seconds": 2})
        await wait_for_status(http, job["id"], "running")
        child = pid_of(await worker_of(http, job["id"]))

        # When `conveyor worker` gets SIGTERM
        code = system.stop("workers", sig=signal.SIGTERM, timeout=40)

        # Then it exits cleanly after its worker process drained: not killed, not restarted
        assert code == 0
        wait_until(lambda: not alive(child), timeout=5, message="the worker process to be gone")
        logged = [line["event"] for line in system.logs("workers")]
        assert "processes_stopped" in logged and "process_killed" not in logged and "process_died" not in logged
        # And the job finished on its first attempt
        done = await get_job(http, job["id"])
        assert (done["status"], done["attempts"]) == ("succeeded", 1)


async def test_worker_sigterm_releases_a_job_whose_thread_cannot_be_interrupted(make_system: MakeSystem) -> None:
    # Given a worker (shutdown timeout 1 s) running a job blocked in one uninterruptible 12-second call
    system = await make_system(shutdown_timeout_seconds=1)
    system.start_worker("first", queues=["general"], threads=1)
    system.start_gateway()
    system.wait_for_consumers("general")
    async with system.client(await system.api_key("drain")) as http:
        job = await submit(http, "block", {"seconds": 12})
        await wait_for_status(http, job["id"], "running")

        # When the worker gets SIGTERM, and another worker starts after it exited
        assert system.stop("first", sig=signal.SIGTERM, timeout=30) == 0
        released = [line for line in system.logs("first") if line["event"] == "job_released"]
        system.start_worker("second", queues=["general"], threads=1)

        # Then the stopping worker gave the job back although its thread was still busy
        assert [line["job_id"] for line in released] == [job["id"]]
        # And the new worker runs it to success, exactly once, with no worker counted as lost
        done = await wait_for_status(http, job["id"], "succeeded", timeout=40)
        assert done["attempts"] == 2 and done["result"] == {"slept": 12.0}
        moves = [e["to_status"] for e in await events(http, job["id"])]
        assert moves == ["queued", "running", "queued", "running", "succeeded"]
    pool = await system.pool()
    try:
        assert await pool.fetchval("SELECT worker_losses FROM jobs WHERE id = $1::uuid", job["id"]) == 0
    finally:
        await pool.close()
