"""Deliveries, end to end: events of real jobs reach real receivers on loopback (an HTTP
server, aiosmtpd) through the notifications queue — signed, retried, guarded, recorded."""

from __future__ import annotations

import email
import email.policy
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller

from infra import deliveries
from infra.db import drop_database
from infra.local.net import free_port
from infra.settings import Settings
from tests.integration.conftest import TEST_OVERRIDES
from tests.support.api import submit, wait_for_status
from tests.support.deliveries import Receiver, Reply, add_subscription, deliveries_of, settled, verify
from tests.support.system import System, clone_database, eventually

PUBLIC_URL = "http://conveyor.test"


class Mailbox:
    """An aiosmtpd handler that keeps every message it is handed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@dataclass
class Receivers:
    hooks: Receiver  # exempt from the guard
    canary: Receiver  # exempt too: a redirect could reach it, and must not
    guarded: Receiver  # not exempt: the guard must keep every delivery away
    mailbox: Mailbox
    smtp_port: int


@pytest.fixture(scope="module")
def receivers() -> Iterator[Receivers]:
    """The receivers every test of the module's system shares (paths keep tests apart)."""
    mailbox, port = Mailbox(), free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    made = Receivers(Receiver(), Receiver(), Receiver(), mailbox, port)
    yield made
    for receiver in (made.hooks, made.canary, made.guarded):
        receiver.close()
    smtp.stop()


@pytest.fixture(scope="module")
async def notifying(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory, receivers: Receivers
) -> AsyncIterator[System]:
    """A system whose webhooks may reach the hooks and canary receivers, retrying fast."""
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    system = System.create(
        settings, url, tmp_path_factory.mktemp("notifying"), **{
            **TEST_OVERRIDES,
            "webhook_allow_private": f"127.0.0.1:{receivers.hooks.port},127.0.0.1:{receivers.canary.port}",
            "webhook_retry_schedule": "0.2s,0.2s",
            "smtp_url": f"smtp://127.0.0.1:{receivers.smtp_port}",
            "public_url": PUBLIC_URL,
        },
    )  # fmt: skip
    system.start_all(queues=("general", "notifications"))
    system.wait_for_consumers("notifications")
    yield system
    system.close()
    await drop_database(url)


@dataclass
class Tenant:
    name: str
    http: httpx.AsyncClient
    db: asyncpg.Pool
    system: System


@pytest.fixture
async def tenant(notifying: System, request: pytest.FixtureRequest) -> AsyncIterator[Tenant]:
    """A tenant of this test's own on the module's system, with an API client and a pool."""
    name = f"tenant-{secrets.token_hex(4)}"
    db = await notifying.pool()
    async with notifying.client(await notifying.api_key(name)) as http:
        yield Tenant(name, http, db, notifying)
    await db.close()
    if getattr(request.node, "report_call", None) is not None and request.node.report_call.failed:
        print(notifying.log_tail())


def path() -> str:
    return f"/{secrets.token_hex(6)}"


async def test_webhook_is_signed_and_a_retry_keeps_its_id(receivers: Receivers, tenant: Tenant) -> None:
    # Given a webhook subscription whose receiver answers 500, then 200
    where = path()
    url = receivers.hooks.script(where, [Reply(500), Reply(200)])
    subscription, secret = await add_subscription(tenant.db, tenant.name, url=url)
    assert secret is not None
    # When a job succeeds
    job = await submit(tenant.http, "echo", {"value": "hi"})
    delivery = await settled(tenant.db, subscription, "delivered")
    # Then the receiver got two signed requests with one webhook-id, the delivery's id
    seen = receivers.hooks.seen(where)
    assert len(seen) == 2
    assert {r.headers["webhook-id"] for r in seen} == {str(delivery["id"])}
    assert all(verify(secret, r.headers, r.body) for r in seen)
    assert not verify(secret, seen[0].headers, seen[0].body + b" ")
    body = json.loads(seen[1].body)
    assert (body["type"], body["data"]["id"], body["data"]["result"]) == ("job.succeeded", job["id"], {"value": "hi"})
    assert seen[1].headers["content-type"] == "application/json"
    # And both attempts are recorded
    assert [(a["attempt"], a["status_code"]) for a in delivery["attempt_rows"]] == [(1, 500), (2, 200)]
    assert delivery["attempts"] == 2 and delivery["delivered_at"] is not None
    # And the secret appears in no log line
    assert all(secret not in (tenant.system.workdir / f"{name}.log").read_text() for name in tenant.system.processes)


async def test_an_exhausted_schedule_fails_the_delivery(receivers: Receivers, tenant: Tenant) -> None:
    # Given a receiver that always answers 503 and a schedule of two retries
    url = receivers.hooks.script(path(), [Reply(503)])
    subscription, _ = await add_subscription(tenant.db, tenant.name, url=url)
    # When a job succeeds, Then three attempts are made and the delivery fails, saying why
    await submit(tenant.http, "echo", {"value": 1})
    delivery = await settled(tenant.db, subscription, "failed")
    assert [a["status_code"] for a in delivery["attempt_rows"]] == [503, 503, 503]
    assert "no retries left" in delivery["attempt_rows"][-1]["error"]


async def test_a_redirect_is_not_followed_and_fails(receivers: Receivers, tenant: Tenant) -> None:
    # Given a receiver that redirects to a canary the guard would let through
    landing = path()
    url = receivers.hooks.script(path(), [Reply(302, {"location": receivers.canary.url(landing)})])
    subscription, _ = await add_subscription(tenant.db, tenant.name, url=url)
    # When a job succeeds
    await submit(tenant.http, "echo", {"value": 1})
    delivery = await settled(tenant.db, subscription, "failed")
    # Then the delivery failed on its one attempt, and the canary saw nothing
    [attempt] = delivery["attempt_rows"]
    assert attempt["status_code"] == 302 and "not followed" in attempt["error"]
    assert receivers.canary.seen(landing) == []


async def test_410_disables_the_subscription_and_tells_the_tenant(receivers: Receivers, tenant: Tenant) -> None:
    # Given a receiver that answers 410 Gone
    url = receivers.hooks.script(path(), [Reply(410)])
    subscription, _ = await add_subscription(tenant.db, tenant.name, url=url)
    # When a job succeeds
    await submit(tenant.http, "echo", {"value": 1})
    delivery = await settled(tenant.db, subscription, "failed")
    # Then the subscription is disabled, and an inbox notice says so
    row = await tenant.db.fetchrow("SELECT disabled_at, disabled_reason FROM subscriptions WHERE id = $1", subscription)
    assert row["disabled_at"] is not None and "410" in row["disabled_reason"]
    notices = await tenant.db.fetch(
        "SELECT event_type, title, body FROM notifications WHERE tenant = $1 AND subscription_id = $2",
        tenant.name, subscription,
    )  # fmt: skip
    assert [n["event_type"] for n in notices] == ["subscription.disabled"]
    assert delivery["attempt_rows"][0]["status_code"] == 410
    # And later events deliver nothing more to it
    later = await submit(tenant.http, "echo", {"value": 2})
    await wait_for_status(tenant.http, later["id"], "succeeded")
    assert len(await deliveries_of(tenant.db, subscription)) == 1


async def test_a_private_address_is_refused_at_delivery(receivers: Receivers, tenant: Tenant) -> None:
    # Given a subscription row to a loopback receiver that is not exempt (written past the API)
    where = path()
    subscription, _ = await add_subscription(tenant.db, tenant.name, url=receivers.guarded.url(where))
    # When a job succeeds
    await submit(tenant.http, "echo", {"value": 1})
    delivery = await settled(tenant.db, subscription, "failed")
    # Then the delivery failed naming the reason, and no connection reached the receiver
    [attempt] = delivery["attempt_rows"]
    assert attempt["status_code"] is None and "not a public address" in attempt["error"]
    assert receivers.guarded.requests == []


async def test_notify_webhooks_are_signed_with_the_callback_secret(receivers: Receivers, tenant: Tenant) -> None:
    # Given a job whose submission asked for a webhook (written past the API)
    where = path()
    job = await submit(tenant.http, "sleep", {"seconds": 1})
    notify = {"webhook": receivers.hooks.url(where), "events": ["job.succeeded"]}
    await tenant.db.execute("UPDATE jobs SET notify = $2 WHERE id = $1", uuid.UUID(job["id"]), notify)
    # When it succeeds, Then the receiver gets it signed with the tenant's callback secret

    async def arrived() -> list[Any]:
        return receivers.hooks.seen(where)

    seen = await eventually(arrived, timeout=20, message="the notify webhook")
    secret = await deliveries.get_or_create_callback_secret(tenant.db, tenant.name)
    assert secret.startswith("whsec_") and verify(secret, seen[0].headers, seen[0].body)
    assert await deliveries.get_or_create_callback_secret(tenant.db, tenant.name) == secret


async def test_email_arrives_with_subject_text_html_and_link(receivers: Receivers, tenant: Tenant) -> None:
    # Given an e-mail subscription
    address = f"{tenant.name}@example.com"
    subscription, _ = await add_subscription(tenant.db, tenant.name, address=address)
    # When a job succeeds
    job = await submit(tenant.http, "echo", {"value": 1})
    delivery = await settled(tenant.db, subscription, "delivered")
    # Then one message reached the SMTP server, with a short subject, text, HTML and the link
    [message] = [m for m in receivers.mailbox.messages if m["To"] == address]
    assert message["Subject"] == "Job echo succeeded"
    assert message["Message-ID"] == f"<{delivery['id']}@localhost>"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    link = f"{PUBLIC_URL}/v1/jobs/{job['id']}"
    assert link in text.get_content() and "general.echo" in text.get_content()
    assert f'href="{link}"' in html.get_content() and "succeeded" in html.get_content()


async def test_clients_can_neither_see_nor_submit_the_notifications_queue(tenant: Tenant) -> None:
    engines = (await tenant.http.get("/v1/engines")).json()["engines"]
    assert "notifications" not in {e["name"] for e in engines}
    body = {"engine": "notifications", "operation": "webhook", "params": {"delivery_id": str(uuid.uuid4())}}
    response = await tenant.http.post("/v1/jobs", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["engine"]


async def test_email_without_an_smtp_server_fails_saying_so(make_system: Callable[..., Awaitable[System]]) -> None:
    # Given a system with no CONVEYOR_SMTP_URL and an e-mail subscription
    system = await make_system()
    system.start_all(queues=("general", "notifications"))
    db = await system.pool()
    try:
        subscription, _ = await add_subscription(db, "unmailed", address="ops@example.com")
        # When a job succeeds, Then its e-mail delivery fails, saying e-mail is not configured
        async with system.client(await system.api_key("unmailed")) as http:
            await submit(http, "echo", {"value": 1})
            delivery = await settled(db, subscription, "failed")
        assert "not configured" in delivery["attempt_rows"][0]["error"]
    finally:
        await db.close()
