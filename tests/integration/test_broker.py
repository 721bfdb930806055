"""RabbitMQ as operators see it (priority queues with delay and dead-letter queues), the
confirm-mode publisher, and the outbox relay."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from msgspec.structs import replace

from infra.broker import queue_declarations
from infra.dispatch import outgoing
from infra.jobs import Dispatch
from infra.publisher import Outgoing, Publisher, PublishError
from infra.settings import Settings
from schemas.contracts import load_contracts
from schemas.engines import QUEUES
from schemas.jobs import JobSubmit
from services.submit import build_job, store_jobs
from tests.support.api import wait_for_status
from tests.support.system import System


async def test_every_engine_queue_is_a_priority_queue_with_dq_and_xq(shared_system: System) -> None:
    # Given the running system, When an operator looks at the management console
    prefix = shared_system.settings.queue_prefix
    async with httpx.AsyncClient(
        base_url=shared_system.settings.rabbitmq_management_url, auth=("guest", "guest")
    ) as console:
        for queue in QUEUES:
            # Then each queue is durable, has x-max-priority, and dead-letters into its .XQ
            work = (await console.get(f"/api/queues/%2F/{prefix}{queue}")).json()
            assert work["durable"] and work["arguments"]["x-max-priority"] == 10, work
            assert work["arguments"]["x-dead-letter-routing-key"] == f"{prefix}{queue}.XQ"
            for suffix in (".DQ", ".XQ"):
                assert (await console.get(f"/api/queues/%2F/{prefix}{queue}{suffix}")).status_code == 200
    assert shared_system.consumers("general") >= 1


async def test_publisher_confirms_a_thousand_messages_in_one_batch(settings: Settings, tmp_path: Path) -> None:
    # Given a publisher declaring the queues of a prefix of its own
    system = System(replace(settings, queue_prefix=f"pub{uuid.uuid4().hex[:6]}_"), tmp_path)
    publisher = Publisher(settings.rabbitmq_url, queue_declarations(system.settings, ["general"]), name="test")
    publisher.start()
    try:
        assert await publisher.wait_ready(10)
        jobs = [
            Dispatch(id=uuid.uuid4(), engine="general", operation="echo", priority=i % 10, attempts=0)
            for i in range(1000)
        ]
        # When it publishes them together, Then RabbitMQ confirmed every one and holds them
        await publisher.publish([outgoing(system.settings, job) for job in jobs], timeout=30)
        assert system.queue_depth("general") == 1000
        # And a message for a queue that does not exist fails instead of vanishing
        with pytest.raises(PublishError, match="does not exist"):
            await publisher.publish(
                [Outgoing(queue="no-such-queue", body=b"{}", priority=0, message_id="x")], timeout=10
            )
    finally:
        await publisher.stop()
        system.delete_queues()


async def test_job_a_crashed_gateway_left_unpublished_is_relayed(shared_system: System) -> None:
    # Given a job stored with its publish intent, but never published (its gateway died between)
    tenant = f"relay-{uuid.uuid4().hex[:6]}"
    submit = JobSubmit(engine="general", operation="echo", params={"value": "orphan"})
    pool = await shared_system.pool()
    try:
        [(row, _)] = await store_jobs(pool, tenant, [build_job(submit, load_contracts(), shared_system.settings)])
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", row["id"]) == 1
        # Then the scheduler's relay publishes it once the grace period passed, and it runs
        async with shared_system.client(await shared_system.api_key(tenant)) as http:
            done = await wait_for_status(http, str(row["id"]), "succeeded", timeout=30)
        assert done["result"] == {"value": "orphan"}
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", row["id"]) == 0
    finally:
        await pool.close()
