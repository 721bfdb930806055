"""Publishing with publisher confirms, many messages in flight, on the caller's event loop.

Dramatiq's own `enqueue` waits for each confirm in turn (hundreds of messages per second).
This publisher sends a whole batch, then awaits RabbitMQ's (cumulative) confirms, so a batch
of a thousand costs about one round trip. It runs on the asyncio loop of the gateway or the
scheduler (pika's asyncio adapter): no thread of its own, nothing blocks the loop. It
reconnects and re-declares Conveyor's queues by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.channel
import pika.frame
import pika.spec
import structlog
from pika.adapters.asyncio_connection import AsyncioConnection

log = structlog.get_logger(__name__)


class PublishError(Exception):
    """RabbitMQ did not take a message: not connected, nacked, or unroutable."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to publish to a queue through the default exchange."""

    queue: str
    body: bytes
    priority: int
    message_id: str


@dataclass(slots=True)
class _Batch:
    future: asyncio.Future[None]
    remaining: int
    message_ids: set[str] = field(default_factory=set)

    def confirm(self) -> None:
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


class Publisher:
    """One confirm-mode channel on the running event loop."""

    def __init__(self, url: str, declarations: Sequence[tuple[str, dict[str, Any]]], *, name: str) -> None:
        self._parameters = pika.URLParameters(url)
        self._parameters.client_properties = {"connection_name": name}
        self._parameters.connection_attempts = 1
        self._parameters.socket_timeout = 5
        self._parameters.blocked_connection_timeout = 30
        self._declarations = list(declarations)
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: AsyncioConnection | None = None
        self._channel: pika.channel.Channel | None = None
        self._ready = asyncio.Event()
        self._stopping = False
        self._closed_waiter: asyncio.Future[None] | None = None
        self._delay = 0.2
        self._delivery_tag = 0
        self._in_flight: dict[int, _Batch] = {}
        self._by_message_id: dict[str, _Batch] = {}

    @property
    def ready(self) -> bool:
        """Connected, queues declared."""
        return self._ready.is_set()

    def start(self) -> None:
        """Connect in the background (call on the event loop); publishing fails fast until ready."""
        self._loop = asyncio.get_running_loop()
        self._connect()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until connected and queues are declared."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self.ready

    async def publish(self, messages: Sequence[Outgoing], *, timeout: float) -> None:
        """Send persistent messages and wait for RabbitMQ to confirm every one.

        PublishError if it refuses one or is not connected; TimeoutError if it does not answer.
        """
        if not messages:
            return
        channel = self._channel
        if not self._ready.is_set() or channel is None or not channel.is_open:
            raise PublishError("not connected to RabbitMQ")
        assert self._loop is not None
        batch = _Batch(self._loop.create_future(), len(messages))
        batch.future.add_done_callback(_retrieve)  # a caller that timed out no longer awaits it
        for message in messages:
            channel.basic_publish(
                exchange="",
                routing_key=message.queue,
                body=message.body,
                properties=pika.BasicProperties(
                    delivery_mode=2,
                    priority=message.priority,
                    message_id=message.message_id,
                    content_type="application/json",
                ),
                mandatory=True,
            )
            self._delivery_tag += 1
            self._in_flight[self._delivery_tag] = batch
            batch.message_ids.add(message.message_id)
            self._by_message_id[message.message_id] = batch
        await asyncio.wait_for(asyncio.shield(batch.future), timeout)

    async def stop(self) -> None:
        """Close the connection."""
        self._stopping = True
        connection = self._connection
        if connection is not None and not (connection.is_closing or connection.is_closed):
            closed = asyncio.get_running_loop().create_future()
            self._closed_waiter = closed
            connection.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed, 5)

    # -- connection lifecycle (callbacks run on the event loop) -----------------------------

    def _connect(self) -> None:
        self._connection = AsyncioConnection(
            self._parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_close,
            custom_ioloop=self._loop,
        )

    def _reconnect_later(self) -> None:
        self._ready.clear()
        self._channel = None
        self._fail_all(PublishError("connection to RabbitMQ lost"))
        if self._stopping:
            if self._closed_waiter is not None and not self._closed_waiter.done():
                self._closed_waiter.set_result(None)
            return
        assert self._loop is not None
        self._loop.call_later(self._delay, self._connect)
        self._delay = min(self._delay * 2, 5.0)

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        log.warning("publisher_connect_failed", publisher=self._name, error=str(error) or type(error).__name__)
        self._reconnect_later()

    def _on_close(self, connection: Any, reason: BaseException) -> None:
        if not self._stopping:
            log.warning("publisher_disconnected", publisher=self._name, reason=str(reason))
        self._reconnect_later()

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        self._channel = channel
        self._delivery_tag = 0
        channel.add_on_close_callback(self._on_channel_close)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _: self._declare(0))

    def _on_channel_close(self, channel: Any, reason: BaseException) -> None:
        if not self._stopping:
            log.error("publisher_channel_closed", publisher=self._name, reason=str(reason))
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    def _declare(self, index: int) -> None:
        channel = self._channel
        if channel is None:
            return
        if index == len(self._declarations):
            if not self._ready.is_set():
                log.info("publisher_ready", publisher=self._name, queues=len(self._declarations))
            self._delay = 0.2
            self._ready.set()
            return
        name, arguments = self._declarations[index]
        channel.queue_declare(name, durable=True, arguments=arguments, callback=lambda _: self._declare(index + 1))

    # -- confirms -----------------------------------------------------------------------------

    def _on_confirm(self, frame: pika.frame.Method[Any]) -> None:
        method = frame.method
        acked = isinstance(method, pika.spec.Basic.Ack)
        if method.multiple:
            tags = list(itertools.takewhile(lambda t: t <= method.delivery_tag, self._in_flight))
        else:
            tags = [method.delivery_tag]
        for tag in tags:
            batch = self._in_flight.pop(tag, None)
            if batch is None:
                continue
            if acked:
                batch.confirm()
            else:
                batch.remaining -= 1
                batch.fail(PublishError("RabbitMQ refused the message (nack)"))
            if batch.remaining == 0:
                for message_id in batch.message_ids:
                    if self._by_message_id.get(message_id) is batch:
                        del self._by_message_id[message_id]

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        """A message no queue took (an operator deleted it): fail it and declare the queues again."""
        log.error("publish_unroutable", publisher=self._name, queue=method.routing_key, reply=method.reply_text)
        batch = self._by_message_id.get(properties.message_id)
        if batch is not None:
            batch.fail(PublishError(f"queue {method.routing_key!r} does not exist"))
        self._ready.clear()
        self._declare(0)

    def _fail_all(self, error: PublishError) -> None:
        batches = {id(b): b for b in self._in_flight.values()}
        self._in_flight.clear()
        self._by_message_id.clear()
        for batch in batches.values():
            batch.fail(error)
