"""The inbox: notices from inbox subscriptions, read one by one or all at once, per tenant."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.api import submit, wait_for_status
from tests.support.receivers import tenant_client
from tests.support.system import System


async def inbox(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    """A page of the inbox."""
    response = await client.get("/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def finish(client: httpx.AsyncClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Submit a `general` job and wait until it has finished; the job."""
    job = await submit(client, operation, params)
    return await wait_for_status(client, job["id"], "succeeded", "failed")


async def test_inbox_subscription_fills_the_inbox_and_notices_are_read(client: httpx.AsyncClient) -> None:
    # Given an inbox subscription to finished jobs
    response = await client.post(
        "/v1/subscriptions", json={"channel": "inbox", "events": ["job.succeeded", "job.failed"]}
    )
    subscription = response.json()["id"]
    # When a job succeeds and another fails
    ok = await finish(client, "echo", {"value": 1})
    bad = await finish(client, "flaky", {"permanent": True})
    assert bad["status"] == "failed"
    # Then the inbox holds a notice of each, newest first, unread
    page = await inbox(client)
    assert page["unread_count"] == 2 and page["next_cursor"] is None
    failed, succeeded = page["items"]
    assert (succeeded["title"], succeeded["event_type"], succeeded["job_id"]) == (
        "Job echo succeeded",
        "job.succeeded",
        ok["id"],
    )
    assert (failed["title"], failed["job_id"], failed["subscription_id"]) == (
        "Job flaky failed",
        bad["id"],
        subscription,
    )
    assert "fails permanently" in failed["body"] and failed["read_at"] is None
    assert isinstance(failed["event_id"], int) and failed["workflow_id"] is None
    assert (await client.get("/v1/notifications/unread-count")).json() == {"unread_count": 2}
    # When one is read, twice, Then it keeps its first read_at and the count drops by one
    first = (await client.post(f"/v1/notifications/{succeeded['id']}/read")).json()
    again = (await client.post(f"/v1/notifications/{succeeded['id']}/read")).json()
    assert first["read_at"] is not None and again["read_at"] == first["read_at"]
    assert [n["id"] for n in (await inbox(client, unread="true"))["items"]] == [failed["id"]]
    assert (await client.get("/v1/notifications/unread-count")).json() == {"unread_count": 1}
    # And an unknown notice is a 404
    assert (await client.post(f"/v1/notifications/{uuid.uuid4()}/read")).status_code == 404


async def test_read_all_marks_every_unread_notice_and_pages_go_newest_first(client: httpx.AsyncClient) -> None:
    # Given three notices in the inbox
    await client.post("/v1/subscriptions", json={"channel": "inbox", "events": ["job.succeeded"]})
    jobs = [await finish(client, "echo", {"value": n}) for n in range(3)]
    # Then a page of two continues with the third, newest first
    first = await inbox(client, limit=2)
    second = await inbox(client, limit=2, cursor=first["next_cursor"])
    listed = [n["job_id"] for n in first["items"] + second["items"]]
    assert listed == [job["id"] for job in reversed(jobs)] and second["next_cursor"] is None
    # When the oldest is read, and then all are read up to the middle one
    oldest, middle, newest = reversed(first["items"] + second["items"])
    await client.post(f"/v1/notifications/{oldest['id']}/read")
    marked = (await client.post("/v1/notifications/read-all", params={"up_to": middle["id"]})).json()
    # Then only the middle one was marked; the newest stays unread
    assert marked == {"marked": 1, "unread_count": 1}
    # When all are read, Then the rest is marked, and again marks nothing
    assert (await client.post("/v1/notifications/read-all")).json() == {"marked": 1, "unread_count": 0}
    assert (await client.post("/v1/notifications/read-all")).json() == {"marked": 0, "unread_count": 0}
    assert (await inbox(client, unread="true"))["items"] == [] and newest["read_at"] is None


async def test_a_tenant_sees_only_its_own_notices(shared_system: System) -> None:
    _, owner = await tenant_client(shared_system)
    _, other = await tenant_client(shared_system)
    async with owner, other:
        # Given a notice in one tenant's inbox
        subscription = (await owner.post("/v1/subscriptions", json={"channel": "inbox", "events": ["*"]})).json()
        await owner.post(f"/v1/subscriptions/{subscription['id']}/test")
        [notice] = (await inbox(owner))["items"]
        # Then another tenant neither lists, counts, reads nor marks it
        assert await inbox(other) == {"items": [], "next_cursor": None, "unread_count": 0}
        assert (await other.post(f"/v1/notifications/{notice['id']}/read")).status_code == 404
        assert (await other.post("/v1/notifications/read-all")).json()["marked"] == 0
        # And it is still unread for its owner
        assert (await inbox(owner, unread="true"))["items"][0]["id"] == notice["id"]
