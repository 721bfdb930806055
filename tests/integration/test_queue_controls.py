"""Queue control against real processes: pause and resume, concurrency limits across worker
processes, backpressure, the audit log, and why a queued job waits."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from schemas.keys import Scope
from tests.integration.conftest import MakeSystem
from tests.support.api import submit, wait_for_status
from tests.support.system import System, eventually


async def admin_client(system: System, tenant: str = "ops") -> httpx.AsyncClient:
    """A client acting with an admin key."""
    return system.client(await system.api_key(tenant, [Scope.ADMIN]))


def max_overlap(jobs: list[dict[str, Any]], *, slept: bool = False) -> int:
    """The most jobs that ran at the same moment, from their started and finished times (or,
    with `slept`, their start plus the time their sleep took)."""
    moments = []
    for job in jobs:
        started = datetime.fromisoformat(job["started_at"])
        ended = (
            started + timedelta(seconds=job["result"]["slept"]) if slept else datetime.fromisoformat(job["finished_at"])
        )
        moments.append((started, 1))
        moments.append((ended, -1))
    running = peak = 0
    for _, change in sorted(moments):  # a finish sorts before a start at the same instant
        running += change
        peak = max(peak, running)
    return peak


async def all_finished(client: httpx.AsyncClient, ids: list[str], *, timeout: float) -> list[dict[str, Any]]:
    """Wait until every job succeeded; the jobs."""
    return [await wait_for_status(client, job_id, "succeeded", timeout=timeout) for job_id in ids]


async def broker_ready(system: System, admin: httpx.AsyncClient, queue: str, count: int) -> dict[str, Any]:
    """Wait until RabbitMQ's management API counts `count` ready messages in a queue."""

    async def seen() -> dict[str, Any] | None:
        view: dict[str, Any] = (await admin.get(f"/v1/queues/{queue}")).json()
        return view if view["ready"] == count and view["unacked"] == 0 else None

    found: dict[str, Any] = await eventually(seen, timeout=30, interval=0.5, message=f"{count} ready in {queue}")
    return found


async def test_queues_list_every_queue_with_broker_and_database_figures(make_system: MakeSystem) -> None:
    # Given a running system and one finished job
    system = await make_system()
    system.start_all(queues=(), threads=2)
    async with await admin_client(system) as admin:
        job = await submit(admin, "echo", {"value": 1})
        await wait_for_status(admin, job["id"], "succeeded")

        # When an operator lists the queues
        response = await admin.get("/v1/queues")

        # Then all nine are there, with RabbitMQ's and PostgreSQL's figures
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [q["engine"] for q in items][-1] == "notifications" and len(items) == 9
        general = next(q for q in items if q["engine"] == "general")
        assert general["name"] == system.settings.queue_prefix + "general"
        assert general["broker_error"] is None
        assert general["queued"] == general["running"] == 0
        assert general["paused"] is False and general["max_concurrency"] is None
        assert general["success_rate"] == 1.0
        assert general["throughput_per_minute"] == pytest.approx(0.2)
        assert general["eta_seconds"] == 0.0
        assert general["workers"] == 1
        one = await admin.get(f"/v1/queues/{general['name']}")
        assert one.status_code == 200 and one.json()["engine"] == "general"
        assert (await admin.get("/v1/queues/nope")).status_code == 404

    # And keys without the admin scope are refused
    async with system.client(await system.api_key("ops", [Scope.JOBS_WRITE, Scope.JOBS_READ])) as user:
        for method, path in [("GET", "/v1/queues"), ("POST", "/v1/queues/general/pause"), ("GET", "/v1/limits")]:
            assert (await user.request(method, path)).status_code == 403, path


async def test_pause_keeps_messages_in_rabbitmq_across_restarts_and_resume_runs_them_by_priority(
    make_system: MakeSystem,
) -> None:
    # Given a system whose general queue is paused while a job of it runs
    system = await make_system()
    system.start_all(queues=("general",), threads=1)
    async with await admin_client(system) as admin:
        running = await submit(admin, "sleep", {"seconds": 2})
        await wait_for_status(admin, running["id"], "running")
        paused = await admin.post("/v1/queues/general/pause")
        assert paused.status_code == 200 and paused.json()["paused"] is True
        await asyncio.sleep(2)  # the pause reaches every worker within 2 s

        # Then the running job finishes
        await wait_for_status(admin, running["id"], "succeeded")

        # When jobs of every priority are submitted
        priorities = ["low", "normal", "high", "critical", "low", "high"]
        jobs = [await submit(admin, "echo", {"value": i}, priority=p) for i, p in enumerate(priorities)]

        # Then none starts: they stay queued, say why, and their messages wait in RabbitMQ
        await broker_ready(system, admin, "general", len(jobs))
        for job in jobs:
            view = (await admin.get(f"/v1/jobs/{job['id']}")).json()
            assert view["status"] == "queued" and view["waiting_reason"] == "queue_paused"
        assert (await admin.get("/v1/queues/general")).json()["queued"] == len(jobs)

        # And the pause holds across restarts of the worker, the gateway and the scheduler
        for name in ("worker", "scheduler"):
            system.stop(name)
        system.stop("gateway")
        system.start_scheduler()
        system.start_worker(queues=("general",), threads=1)
        system.start_gateway()
        await asyncio.sleep(3)
    async with await admin_client(system) as admin:
        assert [(await admin.get(f"/v1/jobs/{j['id']}")).json()["status"] for j in jobs] == ["queued"] * len(jobs)
        assert (await admin.get("/v1/queues/general")).json()["paused"] is True

        # When the queue is resumed
        assert (await admin.post("/v1/queues/general/resume")).json()["paused"] is False

        # Then every job runs, highest priority first
        done = await all_finished(admin, [j["id"] for j in jobs], timeout=30)
        order = [job["priority"] for job in sorted(done, key=lambda job: job["started_at"])]
        assert order == sorted(order, reverse=True), order

        # And both actions are in the audit log
        audit = (await admin.get("/v1/audit")).json()["items"]
        assert [(e["action"], e["target"]) for e in audit] == [("queue.resume", "general"), ("queue.pause", "general")]
        assert all(e["tenant"] == "ops" and e["key_id"] for e in audit)


async def test_limit_caps_running_jobs_across_worker_processes(make_system: MakeSystem) -> None:
    # Given three worker processes of four threads each, and a limit of 2 on their queue
    system = await make_system()
    system.start_scheduler()
    for n in range(3):
        system.start_worker(f"worker{n}", queues=("general",), threads=4)
    system.start_gateway()
    system.wait_for_consumers("general", count=3)
    async with await admin_client(system) as admin:
        limits = await admin.put("/v1/queues/general/limits", json={"max_concurrency": 2})
        assert limits.status_code == 200 and limits.json()["max_concurrency"] == 2
        await asyncio.sleep(2)

        # When 30 jobs of 0.3 s are submitted
        response = await admin.post("/v1/jobs/batch", json={"jobs": [_sleep(0.3) for _ in range(30)]})
        ids = [job["id"] for job in response.json()["jobs"]]
        waiting = await eventually(lambda: _reasons(admin, ids), timeout=10, message="a job held back by the limit")
        assert "queue_limit" in waiting

        # Then they all succeed, never more than 2 at once
        done = await all_finished(admin, ids, timeout=120)
        assert max_overlap(done) <= 2

        # When the limit is lifted
        lifted = await admin.put("/v1/queues/general/limits", json={"max_concurrency": None})
        assert lifted.json()["max_concurrency"] is None
        await asyncio.sleep(2)
        response = await admin.post("/v1/jobs/batch", json={"jobs": [_sleep(1.5) for _ in range(24)]})

        # Then they run twelve at a time, every thread of the three processes busy
        # (a thread takes its next job while its last outcome commits, so finished_at can lag
        # a little: count each job as ending when its sleep did)
        done = await all_finished(admin, [job["id"] for job in response.json()["jobs"]], timeout=60)
        assert max_overlap(done, slept=True) == 12


async def _reasons(admin: httpx.AsyncClient, ids: list[str]) -> set[str]:
    listed = (await admin.get("/v1/jobs", params={"status": "queued", "limit": 100})).json()["items"]
    return {job["waiting_reason"] for job in listed if job["id"] in ids and job["waiting_reason"]}


def _sleep(seconds: float) -> dict[str, Any]:
    return {"engine": "general", "operation": "sleep", "params": {"seconds": seconds}}


async def test_global_limit_and_eta_of_queued_jobs(make_system: MakeSystem) -> None:
    # Given a global limit of one job at a time, and the mean run time of sleep known (one
    # worker thread: several would take messages the limit then gives back to RabbitMQ, which
    # keeps their priority order but not always their order of arrival)
    system = await make_system()
    system.start_all(queues=("general",), threads=1)
    async with await admin_client(system) as admin:
        warm = await submit(admin, "sleep", {"seconds": 0.5})
        await wait_for_status(admin, warm["id"], "succeeded")
        assert (await admin.put("/v1/limits", json={"max_concurrency": 1})).json()["max_concurrency"] == 1
        assert (await admin.get("/v1/limits")).json()["max_concurrency"] == 1
        await asyncio.sleep(2)

        # When ten jobs of 0.5 s are queued
        response = await admin.post("/v1/jobs/batch", json={"jobs": [_sleep(0.5) for _ in range(10)]})
        ids = [job["id"] for job in response.json()["jobs"]]
        await wait_for_status(admin, ids[0], "running", "succeeded")
        last = (await admin.get(f"/v1/jobs/{ids[-1]}")).json()

        # Then the last one knows its place, why it waits and when it should start
        assert last["status"] == "queued", last
        assert last["waiting_reason"] == "global_limit"
        assert 8 <= last["eta"]["position"] <= 10
        estimated = datetime.fromisoformat(last["eta"]["estimated_start_at"])
        asked = datetime.fromisoformat(last["created_at"])

        # And it starts within 50 % of the time estimated
        done = await all_finished(admin, ids, timeout=60)
        started = datetime.fromisoformat(done[-1]["started_at"])
        expected, actual = (estimated - asked).total_seconds(), (started - asked).total_seconds()
        assert abs(actual - expected) <= 0.5 * actual, (expected, actual)
        assert max_overlap(done) == 1


async def test_max_backlog_refuses_submissions_with_429_and_a_batch_whole(make_system: MakeSystem) -> None:
    # Given a paused queue whose backlog may hold 3 jobs
    system = await make_system()
    system.start_all(queues=("general",), threads=2)
    async with await admin_client(system) as admin:
        await admin.post("/v1/queues/general/pause")
        assert (await admin.put("/v1/queues/general/limits", json={"max_backlog": 3})).json()["max_backlog"] == 3
        await asyncio.sleep(1.2)  # submissions read controls at most once a second
        for _ in range(3):
            await submit(admin, "echo", {"value": 1})

        # When one more job, or a batch, is submitted
        single = await admin.post("/v1/jobs", json={"engine": "general", "operation": "echo", "params": {"value": 2}})
        batch = await admin.post("/v1/jobs/batch", json={"jobs": [_sleep(0), _sleep(0)]})

        # Then both answer 429 with Retry-After, and nothing of the batch is stored
        for response in (single, batch):
            assert response.status_code == 429, response.text
            assert int(response.headers["retry-after"]) > 0
            assert response.json()["error"] == "queue_full"
        assert batch.json()["errors"][0]["field"] == "jobs"
        assert (await admin.get("/v1/queues/general")).json()["queued"] == 3

        # And bad limits are 422 naming the field, never 500
        for body, field in [({"max_concurrency": 0}, "max_concurrency"), ({"max_backlog": "x"}, "max_backlog")]:
            bad = await admin.put("/v1/queues/general/limits", json=body)
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, bad.text
        assert (await admin.put("/v1/queues/general/limits", json={"other": 1})).status_code in (400, 422)


async def test_workers_register_and_health_reports_the_cluster(make_system: MakeSystem) -> None:
    # Given a system with two worker processes on the general queue
    system = await make_system()
    system.start_all(queues=("general",), threads=3)
    system.start_worker("worker2", queues=("general",), threads=2)
    system.wait_for_consumers("general", count=2)
    async with await admin_client(system) as admin:
        job = await submit(admin, "sleep", {"seconds": 3})
        await wait_for_status(admin, job["id"], "running")

        # When an operator lists the workers
        workers = await eventually(lambda: _workers(admin, 2), timeout=10, message="two registered workers")

        # Then both are there with their queues and threads, one running the job
        assert sorted(w["threads"] for w in workers) == [2, 3]
        assert all(w["queues"] == ["general"] and w["pid"] > 0 for w in workers)
        assert [job["id"]] in [w["running_job_ids"] for w in workers]

        # And consumers in RabbitMQ agree with the registry
        assert system.consumers("general") == len(workers)

        # And health is ok, with a scheduler leader and round trips
        report = (await admin.get("/v1/health")).json()
        assert report["status"] == "ok", report
        assert report["postgres"]["ok"] and report["rabbitmq"]["ok"]
        assert report["scheduler_leader"]["id"]
        assert report["queues"]["general"]["workers"] == 2

        # When the workers and the scheduler stop, and a job waits
        system.stop("worker2")
        system.stop("worker")
        system.stop("scheduler")
        await submit(admin, "echo", {"value": 1})

        # Then stopped workers drop off, and health says what is wrong
        await eventually(lambda: _workers(admin, 0, exact=True), timeout=10, message="no worker left")
        report = (await admin.get("/v1/health")).json()
        assert report["status"] == "degraded"
        assert report["scheduler_leader"] is None
        assert any("general" in problem for problem in report["problems"])
        assert report["queues"]["general"]["oldest_queued_age_seconds"] >= 0


async def _workers(admin: httpx.AsyncClient, count: int, *, exact: bool = False) -> list[dict[str, Any]] | bool:
    items: list[dict[str, Any]] = (await admin.get("/v1/workers")).json()["items"]
    if exact:
        return len(items) == count
    return items if len(items) >= count else []
