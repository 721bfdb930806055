"""RabbitMQ: queue declarations, job messages, and the Dramatiq broker of worker processes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker
from dramatiq.common import dq_name, xq_name

from infra.jobs import Dispatch
from infra.settings import Settings
from schemas.engines import QUEUES

#: `x-max-priority` of every queue: message priorities 0–9 are used, RabbitMQ allows up to this.
MAX_PRIORITY = 10


def actor_name(engine: str, operation: str) -> str:
    """The Dramatiq actor that runs an operation."""
    return f"{engine}.{operation}"


def queue_arguments(queue: str) -> dict[str, Any]:
    """Arguments of a work queue and its delay queue, exactly as Dramatiq declares them."""
    return {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": xq_name(queue),
        "x-max-priority": MAX_PRIORITY,
    }


def queue_declarations(settings: Settings, queues: Sequence[str] = QUEUES) -> list[tuple[str, dict[str, Any]]]:
    """(name, arguments) of every queue to declare: each work queue, its `.DQ` and its `.XQ`."""
    declared: list[tuple[str, dict[str, Any]]] = []
    for engine in queues:
        name = settings.queue_name(engine)
        declared += [
            (name, queue_arguments(name)),
            (dq_name(name), queue_arguments(name)),
            (xq_name(name), {"x-message-ttl": DEAD_MESSAGE_TTL}),
        ]
    return declared


def job_message(settings: Settings, job: Dispatch) -> dramatiq.Message[Any]:
    """The Dramatiq message that runs a job: its id is the job id, its priority the job's."""
    return dramatiq.Message(
        queue_name=settings.queue_name(job.engine),
        actor_name=actor_name(job.engine, job.operation),
        args=(),
        kwargs={},
        options={"broker_priority": job.priority, "attempt": job.attempts + 1},
        message_id=str(job.id),
        message_timestamp=int(time.time() * 1000),
    )


def build_broker(settings: Settings, middleware: Sequence[dramatiq.Middleware]) -> RabbitmqBroker:
    """The broker of a worker process, with exactly the middleware given, in order."""
    broker = RabbitmqBroker(
        url=settings.rabbitmq_url,
        confirm_delivery=True,
        max_priority=MAX_PRIORITY,
        middleware=list(middleware),
    )
    for engine in QUEUES:
        broker.declare_queue(settings.queue_name(engine))
    return broker
