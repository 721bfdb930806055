"""Subscriptions: CRUD, validation, the address guard at registration, the deliveries a job's
events make, pings, redeliveries and tenant isolation."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest

from schemas.keys import Scope
from tests.support.api import events, submit, wait_for_status
from tests.support.receivers import (
    Canary,
    deliveries_of,
    tenant_client,
)
from tests.support.system import System


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """Create a subscription; the 201 answer."""
    response = await client.post("/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(client: httpx.AsyncClient, subscription_id: str) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first."""
    response = await client.get(f"/v1/subscriptions/{subscription_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_webhook_subscription_shows_its_secret_once(receiving: System, canary: Canary) -> None:
    # Given a tenant, When it subscribes a webhook
    _, client = await tenant_client(receiving)
    async with client:
        body = {"channel": "webhook", "url": canary.url, "events": ["job.*", "workflow.failed", "job.*"]}
        created = await create(client, **body, filter={"tags": ["blue"]}, description="ops")
        # Then the answer carries its secret: whsec_ and 24 random bytes in base64
        assert created["secret"].startswith("whsec_")
        assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 24
        assert (created["url"], created["events"], created["description"]) == (
            canary.url,
            ["job.*", "workflow.failed"],
            "ops",
        )
        assert created["filter"] == {"tags": ["blue"], "engines": [], "operations": []}
        assert created["disabled_at"] is None
        # And never again: neither its own page nor the listing shows it
        fetched = await client.get(f"/v1/subscriptions/{created['id']}")
        assert fetched.status_code == 200 and "secret" not in fetched.json()
        assert created["secret"] not in (await client.get("/v1/subscriptions")).text
        # When it rotates the secret, Then the new one is shown that once and differs
        rotated = (await client.post(f"/v1/subscriptions/{created['id']}/rotate-secret")).json()
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
        assert (
            rotated["id"] == created["id"]
            and "secret" not in (await client.get(f"/v1/subscriptions/{created['id']}")).json()
        )
        # When it deletes the subscription, Then it is gone
        assert (await client.delete(f"/v1/subscriptions/{created['id']}")).status_code == 204
        assert (await client.get(f"/v1/subscriptions/{created['id']}")).status_code == 404
        assert (await client.delete(f"/v1/subscriptions/{created['id']}")).status_code == 404
    # And nothing was sent to the receiver on the way
    assert canary.connections == 0


async def test_subscriptions_list_newest_first_in_pages(client: httpx.AsyncClient) -> None:
    made = [await create(client, channel="inbox", events=["job.failed"]) for _ in range(3)]
    first = (await client.get("/v1/subscriptions", params={"limit": 2})).json()
    assert [s["id"] for s in first["items"]] == [made[2]["id"], made[1]["id"]]
    assert all("secret" not in s for s in first["items"])
    second = (await client.get("/v1/subscriptions", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert ([s["id"] for s in second["items"]], second["next_cursor"]) == ([made[0]["id"]], None)
    assert (await client.get("/v1/subscriptions", params={"cursor": "nope"})).json()["errors"][0]["field"] == "cursor"


INVALID = [
    ({"channel": "webhook", "events": ["job.failed"]}, "url"),
    ({"channel": "inbox", "url": "https://example.com/", "events": ["job.failed"]}, "url"),
    ({"channel": "email", "events": ["job.failed"]}, "address"),
    ({"channel": "inbox", "address": "a@example.com", "events": ["job.failed"]}, "address"),
    ({"channel": "email", "address": "not an address", "events": ["job.failed"]}, "address"),
    ({"channel": "email", "address": "a@b\r\nBcc: x@example.com", "events": ["job.failed"]}, "address"),
    ({"channel": "email", "address": "a" * 65 + "@example.com", "events": ["job.failed"]}, "address"),
    ({"channel": "inbox", "events": ["job.failed", "job.exploded"]}, "events[1]"),
    ({"channel": "inbox", "events": []}, "events"),
    ({"channel": "inbox", "events": ["job.failed"] * 33}, "events"),
    ({"channel": "inbox", "events": ["job.failed"], "filter": {"engines": ["nope"]}}, "filter.engines[0]"),
    ({"channel": "inbox", "events": ["*"], "filter": {"operations": ["echo", "general.nope"]}}, "filter.operations[1]"),
    ({"channel": "inbox", "events": ["*"], "filter": {"tags": ["no spaces"]}}, "filter.tags[0]"),
    ({"channel": "inbox", "events": ["*"], "filter": {"queues": []}}, "filter.queues"),
    ({"channel": "inbox", "events": ["*"], "secret": "whsec_mine"}, "secret"),
    ({"channel": "inbox", "events": ["*"], "disabled_at": None}, "disabled_at"),
    ({"channel": "sms", "events": ["*"]}, "channel"),
    ({"channel": "inbox", "events": ["*"], "description": "x" * 501}, "description"),
    ({"channel": "inbox", "events": ["*"], "description": "a\u0000b"}, "description"),
    ({"channel": "webhook", "url": "ftp://example.com/", "events": ["*"]}, "url"),
    ({"channel": "webhook", "url": "https://user:pw@example.com/", "events": ["*"]}, "url"),
    ({"channel": "webhook", "url": "https://example.com/" + "a" * 2048, "events": ["*"]}, "url"),
]


@pytest.mark.parametrize(("body", "field"), INVALID, ids=[f"{i}-{field}" for i, (_, field) in enumerate(INVALID)])
async def test_invalid_subscription_is_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/subscriptions", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.text
    assert (await client.get("/v1/subscriptions")).json()["items"] == []


async def test_webhook_to_a_private_address_is_refused_and_nothing_connects(client: httpx.AsyncClient) -> None:
    # Given a receiver on loopback and the default settings (no address exempt from the guard)
    async with Canary() as canary:
        urls = [
            canary.url,
            f"http://[::1]:{canary.port}/hook",
            f"http://localhost:{canary.port}/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            f"http://[::ffff:127.0.0.1]:{canary.port}/hook",
        ]
        for url in urls:
            # When a webhook subscription names it, Then it is refused naming `url`, with the reason
            response = await client.post("/v1/subscriptions", json={"channel": "webhook", "url": url, "events": ["*"]})
            assert response.status_code == 422, (url, response.text)
            [error] = response.json()["errors"]
            assert error["field"] == "url" and "not a public address" in error["message"], (url, error)
        # And no connection reached the receiver, and nothing was stored
        assert canary.connections == 0
    assert (await client.get("/v1/subscriptions")).json()["items"] == []


async def test_finished_job_makes_deliveries_for_matching_subscriptions_only(receiving: System, canary: Canary) -> None:
    tenant, client = await tenant_client(receiving)
    async with client:
        # Given subscriptions that match a tagged echo job's events, and some that do not
        hook = {"channel": "webhook", "url": canary.url}
        every = await create(client, **hook, events=["job.*"])
        tagged = await create(
            client, channel="email", address="ops@example.com", events=["job.succeeded"], filter={"tags": ["blue"]}
        )
        by_operation = await create(client, **hook, events=["job.succeeded"], filter={"operations": ["general.echo"]})
        by_engine = await create(
            client, **hook, events=["job.succeeded"], filter={"engines": ["general"], "operations": ["echo"]}
        )
        misses = [
            await create(client, **hook, events=["job.succeeded"], filter={"engines": ["text_intelligence"]}),
            await create(client, **hook, events=["job.succeeded"], filter={"operations": ["sleep"]}),
            await create(client, channel="email", address="ops@example.com", events=["job.failed"]),
            await create(client, **hook, events=["workflow.*"]),
            await create(client, channel="inbox", events=["job.succeeded"], filter={"tags": ["red"]}),
        ]  # fmt: skip
        # When the job runs to success
        job = await submit(client, "echo", {"value": 1}, tags=["blue", "green"])
        await wait_for_status(client, job["id"], "succeeded")
        history = {e["type"]: e["id"] for e in await events(client, job["id"])}
        # Then `job.*` got a delivery of each of its events, newest first
        got = await deliveries(client, every["id"])
        assert [(d["event_type"], d["event_id"]) for d in got] == [
            (t, history[t]) for t in ("job.succeeded", "job.started", "job.queued")
        ]
        assert {d["status"] for d in got} == {"pending"} and all(d["attempt_log"] == [] for d in got)
        # And each filter that matches got the success, and only that
        for matching in (tagged, by_operation, by_engine):
            assert [d["event_type"] for d in await deliveries(client, matching["id"])] == ["job.succeeded"]
        # And the others got nothing, and the inbox stayed empty
        for miss in misses:
            assert await deliveries(client, miss["id"]) == []
        assert (await client.get("/v1/notifications")).json()["items"] == []
    # And each delivery is sent by a queued notifications job of its own, naming it
    rows = await deliveries_of(receiving, tenant)
    assert len(rows) == 6 and len({row["job_id"] for row in rows}) == 6
    for row in rows:
        assert (row["job_engine"], row["job_status"], row["job_operation"]) == (
            "notifications",
            "queued",
            row["channel"],
        )
        assert row["job_params"] == {"delivery_id": str(row["id"])}
    assert {row["target"] for row in rows} == {canary.url, "ops@example.com"}


async def test_ping_and_redelivery_keep_the_delivery_id(receiving: System, canary: Canary) -> None:
    tenant, client = await tenant_client(receiving)
    async with client:
        hook = await create(client, channel="webhook", url=canary.url, events=["job.failed"])
        # When the tenant tests the subscription
        response = await client.post(f"/v1/subscriptions/{hook['id']}/test")
        assert response.status_code == 202, response.text
        ping = response.json()
        # Then a ping delivery is queued: no event, the subscription's URL
        assert (ping["event_type"], ping["event_id"], ping["status"], ping["target"]) == (
            "ping",
            None,
            "pending",
            canary.url,
        )
        assert [d["id"] for d in await deliveries(client, hook["id"])] == [ping["id"]]
        # And redelivering it while it is pending is a conflict naming the delivery
        again = f"/v1/subscriptions/{hook['id']}/deliveries/{ping['id']}/redeliver"
        pending = await client.post(again)
        assert pending.status_code == 409 and pending.json()["errors"][0]["field"] == "delivery_id"
        [before] = await deliveries_of(receiving, tenant)
        # Given the delivery failed for good (as a worker records an exhausted one)
        pool = await receiving.pool()
        try:
            await pool.execute(
                "UPDATE deliveries SET status = 'failed', attempts = 8 WHERE id = $1", uuid.UUID(ping["id"])
            )
        finally:
            await pool.close()
        # When it is redelivered
        response = await client.post(again)
        assert response.status_code == 202, response.text
        # Then it is pending again under the same id, sent by a new job
        assert (response.json()["id"], response.json()["status"]) == (ping["id"], "pending")
        [after] = await deliveries_of(receiving, tenant)
        assert after["id"] == before["id"] and after["job_id"] != before["job_id"]
        assert (after["job_status"], after["job_params"]) == ("queued", {"delivery_id": ping["id"]})
        # And an unknown delivery is a 404
        missing = await client.post(f"/v1/subscriptions/{hook['id']}/deliveries/{uuid.uuid4()}/redeliver")
        assert missing.status_code == 404


async def test_disabled_subscription_hears_nothing_until_enabled(receiving: System, canary: Canary) -> None:
    _, client = await tenant_client(receiving)
    async with client:
        hook = await create(client, channel="webhook", url=canary.url, events=["job.succeeded"])
        # Given its receiver answered 410 Gone (the sender disables it so)
        pool = await receiving.pool()
        try:
            await pool.execute(
                "UPDATE subscriptions SET disabled_at = now(), disabled_reason = 'the receiver answered 410 Gone'"
                " WHERE id = $1",
                uuid.UUID(hook["id"]),
            )
        finally:
            await pool.close()
        # Then its view says so, a test is refused, and a finished job makes no delivery
        view = (await client.get(f"/v1/subscriptions/{hook['id']}")).json()
        assert view["disabled_at"] is not None and "410" in view["disabled_reason"]
        assert (await client.post(f"/v1/subscriptions/{hook['id']}/test")).status_code == 409
        job = await submit(client, "echo", {"value": 1})
        await wait_for_status(client, job["id"], "succeeded")
        assert await deliveries(client, hook["id"]) == []
        # When it is enabled, Then it hears the next job
        enabled = (await client.post(f"/v1/subscriptions/{hook['id']}/enable")).json()
        assert (enabled["disabled_at"], enabled["disabled_reason"]) == (None, None)
        job = await submit(client, "echo", {"value": 2})
        await wait_for_status(client, job["id"], "succeeded")
        assert [d["event_type"] for d in await deliveries(client, hook["id"])] == ["job.succeeded"]


async def test_inbox_subscription_test_writes_a_notice(client: httpx.AsyncClient) -> None:
    inbox = await create(client, channel="inbox", events=["job.failed"])
    response = await client.post(f"/v1/subscriptions/{inbox['id']}/test")
    assert response.status_code == 202, response.text
    [notice] = (await client.get("/v1/notifications")).json()["items"]
    assert notice == response.json()
    assert (notice["event_type"], notice["subscription_id"], notice["title"]) == ("ping", inbox["id"], "Test notice")
    # And it has no secret to rotate
    rotated = await client.post(f"/v1/subscriptions/{inbox['id']}/rotate-secret")
    assert rotated.status_code == 409 and rotated.json()["errors"][0]["field"] == "subscription_id"


async def test_callback_secret_is_made_once_and_rotates(shared_system: System) -> None:
    _, client = await tenant_client(shared_system)
    _, reader = await tenant_client(shared_system, scopes=[Scope.JOBS_READ])
    async with client, reader:
        # When the tenant asks for its callback secret twice, Then it is the same whsec_ secret
        first = await client.get("/v1/subscriptions/callback-secret")
        assert first.status_code == 200, first.text
        secret = first.json()["secret"]
        assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
        assert (await client.get("/v1/subscriptions/callback-secret")).json()["secret"] == secret
        # And another tenant's is another; a read-only key may not read one
        assert (await reader.get("/v1/subscriptions/callback-secret")).status_code == 403
        # When it rotates, Then the new secret replaces the old
        rotated = (await client.post("/v1/subscriptions/callback-secret/rotate")).json()["secret"]
        assert rotated != secret and (await client.get("/v1/subscriptions/callback-secret")).json()["secret"] == rotated


async def test_tenants_see_only_their_own_subscriptions(shared_system: System) -> None:
    _, owner = await tenant_client(shared_system)
    _, other = await tenant_client(shared_system)
    async with owner, other:
        mine = await create(owner, channel="email", address="me@example.com", events=["job.failed"])
        ping = (await owner.post(f"/v1/subscriptions/{mine['id']}/test")).json()
        base = f"/v1/subscriptions/{mine['id']}"
        # Then another tenant gets 404 for all of it, and lists none of it
        for method, path in [
            ("GET", base), ("DELETE", base), ("POST", f"{base}/test"), ("POST", f"{base}/enable"),
            ("GET", f"{base}/deliveries"), ("POST", f"{base}/deliveries/{ping['id']}/redeliver"),
        ]:  # fmt: skip
            assert (await other.request(method, path)).status_code == 404, (method, path)
        assert (await other.get("/v1/subscriptions")).json()["items"] == []
        # And the owner's subscription is untouched
        assert (await owner.get(base)).status_code == 200
        assert len(await deliveries(owner, mine["id"])) == 1


async def test_a_tenant_may_keep_at_most_100_subscriptions(shared_system: System) -> None:
    _, client = await tenant_client(shared_system)
    async with client:
        for _ in range(100):
            await create(client, channel="inbox", events=["job.failed"])
        response = await client.post("/v1/subscriptions", json={"channel": "inbox", "events": ["job.failed"]})
        assert response.status_code == 409 and "at most 100" in response.json()["detail"]
        assert response.json()["errors"][0]["field"] == "body"
