"""RabbitMQ: queue declarations, job messages, and the Dramatiq broker of worker processes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

import dramatiq
import pika.exceptions
import structlog
from dramatiq.brokers.rabbitmq import DEAD_MESSAGE_TTL, RabbitmqBroker, _RabbitmqConsumer
from dramatiq.common import dq_name, xq_name
from dramatiq.errors import ConnectionClosed

from infra.jobs import Dispatch
from infra.settings import Settings
from schemas.engines import QUEUES

log = structlog.get_logger("conveyor.worker")

#: `x-max-priority` of every queue: message priorities 0–9 are used, RabbitMQ allows up to this.
MAX_PRIORITY = 10
#: How long a consumer that may not take messages waits between looks at its gate.
GATE_CLOSED_WAIT = 0.2
#: How long a message for an operation this worker lacks is held before going back to its queue.
UNKNOWN_ACTOR_WAIT = 1.0


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


class Gate(Protocol):
    """Whether a worker process may take messages from a queue now."""

    def accepts(self, queue_name: str) -> bool:
        """True if the queue's messages may be taken."""


def defer(message: dramatiq.MessageProxy) -> None:
    """Give a message back to its queue, where it keeps its place (instead of acking it)."""
    setattr(message, "deferred", True)  # noqa: B010 - MessageProxy declares no such field


class GatedConsumer(_RabbitmqConsumer):  # type: ignore[misc]
    """Dramatiq's RabbitMQ consumer, with three changes.

    - While its gate is closed (the queue is paused, or at its limit), it cancels its
      subscription: RabbitMQ keeps the messages (the ones not yet handed to the worker go
      back at once), the connection stays open, and the acks of running jobs still flow.
    - A deferred message is rejected with requeue instead of acked: it goes back to its place.
    - An ack or nack of a message that an earlier consumer delivered is dropped: that
      consumer's connection closed, so RabbitMQ has already put the message back, and its
      delivery tag could name another message on this channel.
    A message for an operation this worker lacks goes back to its queue for another worker.
    """

    def __init__(self, broker: ConveyorBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.gate = broker.gate
        self.inactivity_timeout = timeout / 1000
        #: The subscription starts with the first message asked for (pika's consume is lazy).
        self.subscribed = False

    def __next__(self) -> Any:
        try:
            if self.gate is not None and not self.gate.accepts(self.queue_name):
                if self.subscribed:
                    self.channel.cancel()
                    self.subscribed = False
                self.connection.process_data_events(time_limit=GATE_CLOSED_WAIT)
                return None
            if not self.subscribed:
                self.iterator = self.channel.consume(self.queue_name, inactivity_timeout=self.inactivity_timeout)
                self.subscribed = True
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            raise _closed(exc) from None
        message: Any = super().__next__()  # type: ignore[no-untyped-call]
        if message is None:
            return None
        message.consumer = self
        if message.actor_name not in self.broker.actors:
            self._give_back_unknown(message)
            return None
        return message

    def _give_back_unknown(self, message: Any) -> None:
        """Not ours to run (an operation of another build): back to the queue after a pause."""
        log.warning("message_for_unknown_operation", actor=message.actor_name, job_id=message.message_id)
        self.known_tags.discard(message._tag)
        try:
            self.connection.sleep(UNKNOWN_ACTOR_WAIT)
            self.channel.basic_reject(message._tag, requeue=True)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            raise _closed(exc) from None

    def ack(self, message: Any) -> None:
        """Ack (or, for a deferred message, requeue) a message this consumer delivered."""
        if getattr(message, "consumer", self) is not self:
            return
        if getattr(message, "deferred", False):
            self._requeue(message)
        else:
            super().ack(message)  # type: ignore[no-untyped-call]

    def nack(self, message: Any) -> None:
        """Dead-letter a message this consumer delivered."""
        if getattr(message, "consumer", self) is not self:
            return
        super().nack(message)  # type: ignore[no-untyped-call]

    def _requeue(self, message: Any) -> None:
        try:
            self.known_tags.remove(message._tag)
            self.connection.add_callback_threadsafe(partial(self.channel.basic_reject, message._tag, requeue=True))
        except KeyError:
            pass
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            raise _closed(exc) from None


def _closed(exc: Exception) -> Exception:
    """What Dramatiq's consumer thread expects of a lost connection (it reconnects)."""
    closed: Exception = ConnectionClosed(exc)  # type: ignore[no-untyped-call]
    return closed


class ConveyorBroker(RabbitmqBroker):  # type: ignore[misc]
    """RabbitmqBroker whose consumers ask a gate before taking messages (see GatedConsumer)."""

    def __init__(self, *, gate: Gate | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.gate = gate

    @property
    def consumer_class(self) -> type[GatedConsumer]:
        """The consumer of each queue."""
        return GatedConsumer


def build_broker(
    settings: Settings, middleware: Sequence[dramatiq.Middleware], *, gate: Gate | None = None
) -> RabbitmqBroker:
    """The broker of a worker process, with exactly the middleware given, in order."""
    broker = ConveyorBroker(
        gate=gate,
        url=settings.rabbitmq_url,
        confirm_delivery=True,
        max_priority=MAX_PRIORITY,
        middleware=list(middleware),
    )
    for engine in QUEUES:
        broker.declare_queue(settings.queue_name(engine))
    return broker
