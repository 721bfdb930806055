"""Deliveries survive faults: a worker killed mid-delivery, a RabbitMQ restart. At least once,
always under the same webhook-id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from infra.local.rabbitmq import LocalRabbitMQ
from tests.support.api import submit, wait_for_status
from tests.support.deliveries import Receiver, Reply, add_subscription, deliveries_of, settled, verify
from tests.support.system import System, eventually, wait_until


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    """A webhook receiver of this test's own."""
    receiver = Receiver()
    yield receiver
    receiver.close()


async def test_a_worker_killed_mid_delivery_loses_no_delivery(
    hooks: Receiver, make_system: Callable[..., Awaitable[System]]
) -> None:
    # Given a notifications worker of its own, and a receiver that holds the first request
    system = await make_system(webhook_allow_private=f"127.0.0.1:{hooks.port}")
    system.start_worker("notifier", queues=["notifications"])
    system.start_all(queues=("general",))
    system.wait_for_consumers("notifications")
    db = await system.pool()
    try:
        url = hooks.script("/held", [Reply(hold=True), Reply(200)])
        subscription, secret = await add_subscription(db, "killed", url=url)
        assert secret is not None
        async with system.client(await system.api_key("killed")) as http:
            await submit(http, "echo", {"value": 1})

            async def requested() -> bool:
                return len(hooks.seen("/held")) == 1

            await eventually(requested, timeout=20, message="the first request")
            # When the worker is killed while the receiver holds its request
            system.stop("notifier", sig=9)
            hooks.release()
            system.start_worker("notifier-2", queues=["notifications"])
            # Then another worker delivers it, under the same webhook-id
            delivery = await settled(db, subscription, "delivered", timeout=60)
        seen = hooks.seen("/held")
        assert len(seen) == 2 and {r.headers["webhook-id"] for r in seen} == {str(delivery["id"])}
        assert all(verify(secret, r.headers, r.body) for r in seen)
        assert [(a["attempt"], a["status_code"]) for a in delivery["attempt_rows"]] == [(1, 200)]
    finally:
        await db.close()


async def test_a_rabbitmq_restart_loses_no_delivery(
    hooks: Receiver, private_rabbitmq: LocalRabbitMQ, make_system: Callable[..., Awaitable[System]]
) -> None:
    # Given a system on a RabbitMQ of this test's own, and a subscription to queued and succeeded jobs
    system = await make_system(
        rabbitmq_url=private_rabbitmq.url, rabbitmq_management_url=private_rabbitmq.management_url,
        webhook_allow_private=f"127.0.0.1:{hooks.port}",
    )  # fmt: skip
    system.start_all(queues=("general", "notifications"))
    system.wait_for_consumers("notifications")
    db = await system.pool()
    try:
        url = hooks.script("/outage", [Reply(200)])
        subscription, _ = await add_subscription(db, "outage", url=url, events=("job.queued", "job.succeeded"))
        async with system.client(await system.api_key("outage")) as http:
            # When RabbitMQ is down as a job is accepted (its job.queued delivery is made then)
            private_rabbitmq.stop()
            wait_until(lambda: not system.ready(), timeout=20, message="/readyz to report RabbitMQ down")
            job = await submit(http, "echo", {"value": "during"})
            assert len(await deliveries_of(db, subscription)) == 1
            # And RabbitMQ comes back
            private_rabbitmq.start()
            await wait_for_status(http, job["id"], "succeeded", timeout=90)

            # Then both deliveries (made during and after the outage) are delivered
            async def delivered() -> list[dict[str, Any]] | None:
                found = await deliveries_of(db, subscription)
                return found if len(found) == 2 and all(d["status"] == "delivered" for d in found) else None

            found = await eventually(delivered, timeout=60, interval=0.2, message="both deliveries delivered")
        assert {d["event_type"] for d in found} == {"job.queued", "job.succeeded"}
        assert {r.headers["webhook-id"] for r in hooks.seen("/outage")} == {str(d["id"]) for d in found}
    finally:
        await db.close()
