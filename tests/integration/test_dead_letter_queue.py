"""Sweeping a dead-letter queue against the real RabbitMQ: only stale messages go, the rest stay
in place, a sweep that dies loses nothing, and two sweeps at once leave exactly the dead letters."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator, Sequence

import pika
import pytest
from msgspec.structs import replace

from infra import jobs
from infra.db import create_pool
from infra.dead_letter_queue import sweep
from infra.dead_letters import sweep_queue
from infra.jobs import NewJob
from infra.settings import Settings
from schemas.ids import uuid7
from schemas.jobs import JobStatus


@pytest.fixture
def queue(settings: Settings) -> Iterator[str]:
    """A fresh queue declared as a `.XQ` is; deleted afterwards."""
    name = f"t{secrets.token_hex(3)}_general.XQ"
    with _channel(settings) as channel:
        channel.queue_declare(name, durable=True)
    yield name
    with _channel(settings) as channel:
        channel.queue_delete(name)


class _channel:
    def __init__(self, settings: Settings) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(settings.rabbitmq_url))

    def __enter__(self) -> pika.adapters.blocking_connection.BlockingChannel:
        return self.connection.channel()

    def __exit__(self, *_: object) -> None:
        self.connection.close()


def publish(settings: Settings, queue: str, ids: Sequence[str], *, as_property: bool = True, attempt: int = 1) -> None:
    """Dramatiq-like messages for these job ids (the id in the body; also as a property if asked)."""
    with _channel(settings) as channel:
        for job_id in ids:
            properties = pika.BasicProperties(message_id=job_id if as_property else None, delivery_mode=2)
            body = json.dumps({"message_id": job_id, "actor_name": "general.flaky", "options": {"attempt": attempt}})
            channel.basic_publish("", queue, body.encode(), properties)


def contents(settings: Settings, queue: str) -> list[str]:
    """The job ids of the queue's messages, in order (read, then put back)."""
    with _channel(settings) as channel:
        found = []
        while True:
            method, _, body = channel.basic_get(queue)
            if method is None:
                break
            found.append(json.loads(body)["message_id"] if body.startswith(b"{") else body.decode())
        channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
        return found


def test_dead_letter_queue_sweep_deletes_only_stale_messages_in_place(settings: Settings, queue: str) -> None:
    # Given six messages (some with the id only in the body, as Dramatiq's enqueue sends them)
    # and one that is not a job's
    ids = [str(uuid.uuid4()) for _ in range(6)]
    publish(settings, queue, ids[:3])
    publish(settings, queue, ids[3:], as_property=False)
    with _channel(settings) as channel:
        channel.basic_publish("", queue, b"not json")

    # When swept with two of them stale
    done = sweep(settings.rabbitmq_url, queue, lambda seen: {ids[1], ids[4]} & set(seen))

    # Then those two are gone and the others stay, in their order
    assert (done.removed, done.kept, done.complete) == (2, 5, True)
    assert contents(settings, queue) == [ids[0], ids[2], ids[3], ids[5], "not json"]


def test_dead_letter_queue_sweep_that_fails_mid_way_loses_nothing(settings: Settings, queue: str) -> None:
    # Given messages in a dead-letter queue
    ids = [str(uuid.uuid4()) for _ in range(5)]
    publish(settings, queue, ids)

    # When the sweep fails while holding them all unacknowledged (as a gateway dying would)
    def broken(_: Sequence[str]) -> set[str]:
        raise RuntimeError("the database went away")

    done = sweep(settings.rabbitmq_url, queue, broken)

    # Then it says it did not finish, and every message is back in its place
    assert (done.removed, done.complete) == (0, False)
    assert contents(settings, queue) == ids


def test_dead_letter_queue_sweep_of_a_missing_queue_is_complete(settings: Settings) -> None:
    # Given no such queue, When swept, Then there was nothing to remove
    done = sweep(settings.rabbitmq_url, f"t{secrets.token_hex(3)}_absent.XQ", lambda _: set())
    assert (done.removed, done.kept, done.complete) == (0, 0, True)


async def test_dead_letter_queue_concurrent_sweeps_leave_exactly_the_dead_letters(
    settings: Settings, database_url: str, queue: str
) -> None:
    # Given a failed job with two messages in the queue, and 600 messages of jobs that are gone
    pool = await create_pool(replace(settings, database_url=database_url), application_name="test", max_size=4)
    try:
        failed = NewJob(
            id=uuid7(), engine="general", operation="flaky", status=JobStatus.FAILED, priority=5, params={},
            max_retries=0, retry_backoff_seconds=1, retry_backoff_max_seconds=1, timeout_seconds=60, tags=[],
            metadata={}, idempotency_key=None,
        )  # fmt: skip
        await jobs.insert_jobs(pool, "t", [failed])
        gone = [str(uuid.uuid4()) for _ in range(600)]
        publish(settings, queue, [str(failed.id), *gone, str(failed.id)])

        # When two sweeps of the queue run at once
        first, second = await asyncio.gather(
            sweep_queue(pool, settings, queue), sweep_queue(pool, settings, queue)
        )  # fmt: skip

        # Then both finished, between them every stale message went, and the dead letters stayed
        assert first.complete and second.complete
        assert first.removed + second.removed == 600
        assert contents(settings, queue) == [str(failed.id), str(failed.id)]
    finally:
        await pool.close()


async def test_dead_letter_queue_sweep_removes_old_dead_letters_of_a_job_running_again(
    settings: Settings, database_url: str, queue: str
) -> None:
    # Given a job replayed after one attempt and already running its second: the message of
    # its first attempt is in the queue, and so is one of its second (its failure being recorded)
    pool = await create_pool(replace(settings, database_url=database_url), application_name="test", max_size=4)
    try:
        running = NewJob(
            id=uuid7(), engine="general", operation="flaky", status=JobStatus.RUNNING, priority=5, params={},
            max_retries=0, retry_backoff_seconds=1, retry_backoff_max_seconds=1, timeout_seconds=60, tags=[],
            metadata={}, idempotency_key=None,
        )  # fmt: skip
        await jobs.insert_jobs(pool, "t", [running])
        publish(settings, queue, [str(running.id)], attempt=1)
        publish(settings, queue, [str(running.id)], attempt=2)

        # When the queue is swept for that replay
        done = await sweep_queue(pool, settings, queue, {str(running.id): 1})

        # Then the old dead letter is gone and the new one stays
        assert (done.removed, done.kept, done.complete) == (1, 1, True)
        with _channel(settings) as channel:
            method, _, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None and json.loads(body)["options"]["attempt"] == 2
    finally:
        await pool.close()
