"""Workers of different builds side by side: a message for an operation a worker lacks."""

from __future__ import annotations

import asyncio

import pika

from infra import jobs
from infra.broker import job_message
from infra.jobs import NewJob, to_dispatch
from schemas.ids import uuid7
from schemas.jobs import JobStatus
from tests.integration.conftest import MakeSystem


async def test_message_for_an_operation_the_worker_lacks_goes_back_to_its_queue(make_system: MakeSystem) -> None:
    # Given a worker, and a queued job of an operation only a newer build has
    system = await make_system()
    system.start_worker(queues=("general",), threads=2)
    system.wait_for_consumers("general")
    pool = await system.pool()
    try:
        new = NewJob(
            id=uuid7(), engine="general", operation="from_a_newer_build", status=JobStatus.QUEUED, priority=5,
            params={}, max_retries=0, retry_backoff_seconds=1, retry_backoff_max_seconds=1, timeout_seconds=60,
            tags=[], metadata={}, idempotency_key=None,
        )  # fmt: skip
        [row] = await jobs.insert_jobs(pool, "tenant", [new])

        # When its message reaches the worker
        message = job_message(system.settings, to_dispatch(row))
        connection = pika.BlockingConnection(pika.URLParameters(system.settings.rabbitmq_url))
        channel = connection.channel()
        channel.basic_publish(
            "", message.queue_name, message.encode(), pika.BasicProperties(priority=5, delivery_mode=2)
        )
        connection.close()
        await asyncio.sleep(4)

        # Then the worker neither claims the job nor dead-letters its message: the job stays
        # queued for a worker that has the operation, and its message stays in the queue
        job = await jobs.get_job(pool, "tenant", new.id)
        assert job is not None and job["status"] == "queued" and job["attempts"] == 0
        assert system.dead_letters("general") == []
        assert "message_for_unknown_operation" in (system.workdir / "worker.log").read_text()
    finally:
        await pool.close()
