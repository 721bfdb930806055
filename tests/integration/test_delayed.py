"""Delayed jobs: held in PostgreSQL as `scheduled`, queued within a second of their time."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx

from infra.local.rabbitmq import LocalRabbitMQ
from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.system import System, wait_until


def parse(stamp: str) -> datetime:
    """An RFC 3339 time as the API writes it."""
    return datetime.fromisoformat(stamp)


def queued_at(history: list[dict]) -> datetime:
    """When a job left `scheduled` for `queued`."""
    [entry] = [e for e in history if e["from_status"] == "scheduled" and e["to_status"] == "queued"]
    return parse(entry["created_at"])


async def test_delay_seconds_holds_a_job_until_its_time(client: httpx.AsyncClient) -> None:
    # Given a job to run in two seconds
    before = datetime.now(UTC)
    job = await submit(client, "echo", {"value": 1}, delay_seconds=2)
    # Then it waits as `scheduled` with its time
    assert job["status"] == "scheduled"
    run_at = parse(job["run_at"])
    assert before + timedelta(seconds=2) <= run_at <= datetime.now(UTC) + timedelta(seconds=2)
    # And it is queued within a second of that time, not before, and runs
    done = await wait_for_status(client, job["id"], "succeeded", timeout=20)
    queued = queued_at(await events(client, job["id"]))
    assert run_at <= queued < run_at + timedelta(seconds=1)
    assert parse(done["started_at"]) >= run_at and done["result"] == {"value": 1}


async def test_run_at_in_rfc3339_and_in_the_past(client: httpx.AsyncClient) -> None:
    # Given a time with an offset other than UTC
    at = (datetime.now(UTC) + timedelta(seconds=1.5)).astimezone(timezone(timedelta(hours=2)))
    job = await submit(client, "echo", {"value": "later"}, run_at=at.isoformat())
    assert job["status"] == "scheduled" and parse(job["run_at"]) == at
    await wait_for_status(client, job["id"], "succeeded", timeout=20)
    # When the time has passed already, Then the job is queued at once
    past = await submit(client, "echo", {"value": "now"}, run_at="2020-01-01T00:00:00Z")
    assert past["status"] == "queued" and past["run_at"] is None
    await wait_for_status(client, past["id"], "succeeded")


async def test_scheduled_job_cancelled_never_runs(client: httpx.AsyncClient) -> None:
    # Given a job scheduled a second ahead
    job = await submit(client, "echo", {"value": 1}, delay_seconds=1)
    # When it is cancelled before its time
    response = await client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    # Then past its time it is still cancelled and never ran
    wait_until(lambda: datetime.now(UTC) > parse(job["run_at"]) + timedelta(seconds=1.5), timeout=5)
    seen = await get_job(client, job["id"])
    assert seen["status"] == "cancelled" and seen["attempts"] == 0 and seen["started_at"] is None


async def test_bad_delays_are_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    base = {"engine": "general", "operation": "echo", "params": {"value": 1}}
    cases = [
        ({"run_at": "2030-01-01T00:00:00Z", "delay_seconds": 5}, "delay_seconds"),
        ({"run_at": "2030-01-01T00:00:00"}, "run_at"),  # no offset: ambiguous
        ({"run_at": "tomorrow"}, "run_at"),
        ({"run_at": "2999-01-01T00:00:00Z"}, "run_at"),
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"delay_seconds": "soon"}, "delay_seconds"),
    ]
    for extra, field in cases:
        response = await client.post("/v1/jobs", json={**base, **extra})
        assert response.status_code == 422, (extra, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, (extra, response.text)


async def test_delayed_job_survives_rabbitmq_and_scheduler_restarts(
    private_rabbitmq: LocalRabbitMQ, make_system: Callable[..., Awaitable[System]]
) -> None:
    # Given a whole system on a RabbitMQ of this test's own, and a job due in 8 seconds
    system = await make_system(
        rabbitmq_url=private_rabbitmq.url, rabbitmq_management_url=private_rabbitmq.management_url
    )
    system.start_all()
    async with system.client(await system.api_key("delayed")) as http:
        job = await submit(http, "echo", {"value": "kept"}, delay_seconds=8)
        assert job["status"] == "scheduled"
        # Then nothing of it is in RabbitMQ while it waits (no delay queue holds it)
        assert system.queue_depth("general") == 0 and system.queue_depth("general.DQ") == 0

        # When the scheduler is killed and RabbitMQ restarts while the job waits
        system.stop("scheduler", sig=signal.SIGKILL)
        private_rabbitmq.stop()
        private_rabbitmq.start()
        system.start_scheduler("scheduler-2")

        # Then the job still runs, once, on time (or at once if its time passed while down)
        done = await wait_for_status(http, job["id"], "succeeded", timeout=60)
        assert done["attempts"] == 1 and done["result"] == {"value": "kept"}
        history = await events(http, job["id"])
        assert queued_at(history) >= parse(job["run_at"])
        assert sum(1 for e in history if e["to_status"] == "succeeded") == 1
