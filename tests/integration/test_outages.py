"""Faults: jobs accepted while RabbitMQ is down run once it is back; a PostgreSQL restart loses nothing.

These tests start RabbitMQ or PostgreSQL servers of their own on spare ports and stop those;
the shared servers are never touched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from msgspec.structs import replace

from infra.local.postgres import LocalPostgres
from infra.local.rabbitmq import LocalRabbitMQ
from tests.support.api import events, submit, wait_for_status
from tests.support.system import System, base_settings, create_template, eventually, wait_until


async def test_job_accepted_while_rabbitmq_is_down_runs_when_it_is_back(
    private_rabbitmq: LocalRabbitMQ, make_system: Callable[..., Awaitable[System]]
) -> None:
    # Given a whole system on a RabbitMQ of this test's own
    system = await make_system(
        rabbitmq_url=private_rabbitmq.url, rabbitmq_management_url=private_rabbitmq.management_url
    )
    system.start_all()
    async with system.client(await system.api_key("outage")) as http:
        before = await submit(http, "echo", {"value": "before"})
        await wait_for_status(http, before["id"], "succeeded")

        # When RabbitMQ stops, a job is still accepted (202, queued) and its publish intent is kept
        private_rabbitmq.stop()
        wait_until(lambda: not system.ready(), timeout=20, message="/readyz to report RabbitMQ down")
        during = await submit(http, "echo", {"value": "during"})
        assert during["status"] == "queued"
        pool = await system.pool()
        try:
            assert await pool.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", during["id"]) == 1
        finally:
            await pool.close()

        # Then, once RabbitMQ is back, the relay publishes it and it runs, once
        private_rabbitmq.start()
        done = await wait_for_status(http, during["id"], "succeeded", timeout=90)
        assert done["result"] == {"value": "during"} and done["attempts"] == 1
        wait_until(system.ready, timeout=30, message="/readyz to recover")


async def test_postgres_restart_loses_no_job(
    private_postgres: LocalPostgres, make_system: Callable[..., Awaitable[System]]
) -> None:
    # Given a whole system on a PostgreSQL of this test's own
    template = await create_template(replace(base_settings(), database_url=private_postgres.url), "conveyor_template")
    system = await make_system(template=template)
    system.start_all()
    async with system.client(await system.api_key("restart")) as http:
        # While jobs run
        jobs = [await submit(http, "sleep", {"seconds": 1.5}) for _ in range(4)]
        await wait_for_status(http, jobs[0]["id"], "running")
        # When PostgreSQL restarts (a fast shutdown closes every session)
        private_postgres.stop(mode="fast")
        private_postgres.start()
        wait_until(system.ready, timeout=30, message="/readyz after the restart")
        after = await submit(http, "echo", {"value": "after"})
        # Then every job still succeeds, exactly once
        for job in [*jobs, after]:
            await wait_for_status(http, job["id"], "succeeded", timeout=90)
            history = await events(http, job["id"])
            assert sum(1 for e in history if e["to_status"] == "succeeded") == 1


async def test_gateway_answers_503_while_postgres_is_down_and_recovers(
    private_postgres: LocalPostgres, make_system: Callable[..., Awaitable[System]]
) -> None:
    # Given a gateway on a PostgreSQL of this test's own, a key it has cached and a job
    template = await create_template(replace(base_settings(), database_url=private_postgres.url), "conveyor_template")
    system = await make_system(template=template, key_cache_seconds=600)
    system.start_gateway()
    known, unknown = await system.api_key("outage"), await system.api_key("outage")
    async with system.client(known) as http, system.client(unknown) as stranger:
        job = await submit(http, "echo", {"value": "before"})
        echo = {"engine": "general", "operation": "echo", "params": {"value": 1}}
        requests: list[Callable[[], Awaitable[httpx.Response]]] = [
            lambda: http.post("/v1/jobs", json=echo),
            lambda: http.post("/v1/jobs/batch", json={"jobs": [echo]}),
            lambda: http.post("/v1/workflows", json={"name": "w", "nodes": [{"key": "a", **echo}]}),
            lambda: http.get(f"/v1/jobs/{job['id']}"),
            lambda: http.get("/v1/jobs"),
            lambda: http.get(f"/v1/jobs/{job['id']}/events"),
            lambda: stranger.get("/v1/jobs"),  # a key not cached yet is looked up in the database
        ]

        # When PostgreSQL stops
        private_postgres.stop(mode="fast")
        # Then submits and reads answer 503 with Retry-After and a JSON error body, never 500
        for send in requests:
            response = await send()
            assert response.status_code == 503, (response.request.url, response.text)
            assert response.headers["Retry-After"].isdigit()
            assert response.json()["error"] == "unavailable"
        wait_until(lambda: not system.ready(), timeout=10, message="/readyz to report PostgreSQL down")

        # When it is back, requests succeed again as soon as the gateway reconnects
        private_postgres.start()

        async def submitted() -> bool:
            response = await http.post("/v1/jobs", json=echo)
            assert response.status_code in (202, 503), response.text
            return response.status_code != 503

        await eventually(submitted, timeout=30, interval=0.1, message="a submit to succeed after the outage")
        for send in requests:
            response = await send()
            assert response.status_code < 300, (response.request.url, response.text)
