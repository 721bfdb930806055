"""`notify` on a submission: the deliveries and notices of that job's or workflow's events only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.receivers import Canary, deliveries_of, tenant_client
from tests.support.system import System, eventually
from tests.support.workflows import echo, submit_workflow, wait_for_workflow


async def notices(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The inbox, newest first."""
    items: list[dict[str, Any]] = (await client.get("/v1/notifications")).json()["items"]
    return items


async def test_notify_delivers_the_terminal_events_by_default(receiving: System, canary: Canary) -> None:
    tenant, client = await tenant_client(receiving)
    async with client:
        # Given a job that asks to be told by webhook, e-mail and inbox, naming no events
        notify = {"webhook": canary.url, "email": ["a@example.com", "b@example.com"], "inbox": True}
        job = await submit(client, "echo", {"value": 1}, notify=notify)
        assert job["notify"] == {**notify, "events": []}
        await wait_for_status(client, job["id"], "succeeded")
        succeeded = next(e["id"] for e in await events(client, job["id"]) if e["type"] == "job.succeeded")
        # Then its success (and not its queuing or start) made one delivery per receiver
        rows = await deliveries_of(receiving, tenant)
        assert sorted((r["channel"], r["target"]) for r in rows) == [
            ("email", "a@example.com"), ("email", "b@example.com"), ("webhook", canary.url),
        ]  # fmt: skip
        assert {(r["event_id"], r["event_type"], r["subscription_id"], r["job_status"]) for r in rows} == {
            (succeeded, "job.succeeded", None, "queued")
        }
        # And one inbox notice
        [notice] = await notices(client)
        assert (notice["event_type"], notice["job_id"], notice["subscription_id"]) == ("job.succeeded", job["id"], None)
        # And the job shows whom it tells
        assert (await get_job(client, job["id"]))["notify"] == job["notify"]


async def test_notify_sends_only_the_events_it_names(client: httpx.AsyncClient) -> None:
    # Given a job that asks for its start only, and one that asks for nothing but failures
    started = await submit(client, "echo", {"value": 1}, notify={"inbox": True, "events": ["job.started"]})
    quiet = await submit(client, "echo", {"value": 2}, notify={"inbox": True, "events": ["job.failed"]})
    await wait_for_status(client, started["id"], "succeeded")
    await wait_for_status(client, quiet["id"], "succeeded")
    # Then the inbox holds the start of the first, and nothing of the second
    assert [(n["event_type"], n["job_id"]) for n in await notices(client)] == [("job.started", started["id"])]


async def test_workflow_notify_tells_of_the_workflow(client: httpx.AsyncClient) -> None:
    # Given a workflow that asks for its inbox notices
    workflow = await submit_workflow(client, [echo("a", 1), echo("b", 2, "a")], notify={"inbox": True})
    assert workflow["notify"]["inbox"] is True
    await wait_for_workflow(client, workflow["id"], "succeeded")
    # Then its success is in the inbox, and its nodes' jobs tell nobody
    [notice] = await notices(client)
    assert (notice["event_type"], notice["workflow_id"], notice["title"]) == (
        "workflow.succeeded", workflow["id"], "Workflow test succeeded",
    )  # fmt: skip
    assert "2 of 2 nodes finished" in notice["body"]


async def test_notify_webhook_to_a_private_address_is_refused(client: httpx.AsyncClient) -> None:
    # Given the default settings and a receiver on loopback
    async with Canary() as canary:
        hook = {"webhook": canary.url}
        private = {"webhook": "http://10.0.0.1/"}
        job = {"engine": "general", "operation": "echo", "params": {"value": 1}}
        refusals = [
            ("/v1/jobs", {**job, "notify": hook}, "notify.webhook"),
            ("/v1/jobs/batch", {"jobs": [job, {**job, "notify": private}]}, "jobs[1].notify.webhook"),
            ("/v1/workflows", {"name": "w", "nodes": [echo("a", 1)], "notify": hook}, "notify.webhook"),
            ("/v1/schedules", {"name": "s", "cron": "0 0 * * *", "job": {**job, "notify": hook}}, "job.notify.webhook"),
        ]  # fmt: skip
        for path, body, field in refusals:
            # When a submission's notify names it, Then it is refused naming the field, and nothing is stored
            response = await client.post(path, json=body)
            assert response.status_code == 422, (path, response.text)
            [error] = response.json()["errors"]
            assert error["field"] == field and "not a public address" in error["message"], (path, error)
        assert canary.connections == 0
    assert (await client.get("/v1/jobs")).json()["items"] == []
    assert (await client.get("/v1/workflows")).json()["items"] == []


INVALID = [
    ({"email": ["not-an-address"]}, "notify.email[0]"),
    ({"email": ["a@example.com", "b@@example.com"]}, "notify.email[1]"),
    ({"inbox": True, "events": ["job.succeeded", "job.nope"]}, "notify.events[1]"),
    ({"inbox": True, "events": ["workflow.failed"]}, "notify.events[0]"),
    ({}, "notify"),
    ({"inbox": False}, "notify"),
    ({"inbox": True, "sms": "+1"}, "notify.sms"),
    ({"webhook": "gopher://example.com/"}, "notify.webhook"),
    ({"email": ["a@example.com"] * 11}, "notify.email"),
]


@pytest.mark.parametrize(("notify", "field"), INVALID, ids=[f"{i}-{field}" for i, (_, field) in enumerate(INVALID)])
async def test_invalid_notify_is_refused_naming_the_field(client: httpx.AsyncClient, notify: Any, field: str) -> None:
    body = {"engine": "general", "operation": "echo", "params": {"value": 1}, "notify": notify}
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.text


async def test_workflow_notify_names_workflow_events_only(client: httpx.AsyncClient) -> None:
    body = {
        "name": "w",
        "nodes": [echo("a", 1)],
        "notify": {"inbox": True, "events": ["workflow.failed", "job.failed"]},
    }
    response = await client.post("/v1/workflows", json=body)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "notify.events[1]"


async def test_schedule_jobs_carry_their_notify(client: httpx.AsyncClient) -> None:
    # Given a schedule firing every second whose job asks for an inbox notice of its success
    job = {"engine": "general", "operation": "echo", "params": {"value": 1}, "notify": {"inbox": True}}
    response = await client.post("/v1/schedules", json={"name": "s", "cron": "* * * * * *", "job": job})
    assert response.status_code == 201, response.text
    schedule = response.json()

    # Then a job it fired succeeds and tells the inbox, and shows whom it tells
    async def notice() -> dict[str, Any] | None:
        items = await notices(client)
        return items[-1] if items else None

    found = await eventually(notice, timeout=20, message="a notice of a scheduled job")
    await client.delete(f"/v1/schedules/{schedule['id']}")
    fired = await get_job(client, found["job_id"])
    assert (fired["schedule_id"], found["event_type"]) == (schedule["id"], "job.succeeded")
    assert fired["notify"] == {"webhook": None, "email": [], "inbox": True, "events": []}
