"""Queue declarations match what Dramatiq declares, and job messages carry the job."""

from __future__ import annotations

import uuid

from dramatiq.brokers.rabbitmq import RabbitmqBroker

from infra.broker import MAX_PRIORITY, job_message, queue_declarations
from infra.jobs import Dispatch
from infra.settings import Settings
from schemas.engines import ENGINES, QUEUES


def test_declarations_equal_dramatiqs_own() -> None:
    # Given Dramatiq's broker with the same max priority (it connects lazily, so nothing is opened)
    dramatiq_broker = RabbitmqBroker(url="amqp://127.0.0.1:1", max_priority=MAX_PRIORITY)
    declared = dict(queue_declarations(Settings(queue_prefix="p_")))
    # Then every work and delay queue has exactly Dramatiq's arguments (else PRECONDITION_FAILED)
    assert declared["p_general"] == dramatiq_broker._build_queue_arguments("p_general")
    assert declared["p_general.DQ"] == dramatiq_broker._build_queue_arguments("p_general")
    assert set(declared["p_general.XQ"]) == {"x-message-ttl"}
    assert len(declared) == 3 * len(QUEUES) == 27


def test_job_message_is_addressed_to_the_operation_actor() -> None:
    job_id = uuid.uuid4()
    message = job_message(
        Settings(queue_prefix="p_"), Dispatch(id=job_id, engine="general", operation="echo", priority=9, attempts=2)
    )
    assert (message.queue_name, message.actor_name, message.message_id) == ("p_general", "general.echo", str(job_id))
    assert message.options == {"broker_priority": 9, "attempt": 3}


def test_there_are_eight_engines_and_a_notifications_queue() -> None:
    assert len(ENGINES) == 8 and QUEUES[-1] == "notifications"
