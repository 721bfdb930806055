"""Publishing with publisher confirms, many messages in flight, from one I/O thread.

Dramatiq's own `enqueue` waits for each confirm in turn (hundreds of messages per second).
This publisher sends a whole batch, then waits for RabbitMQ's (cumulative) confirms, so a
batch of a thousand costs about as much as one round trip. It is thread-safe and never
blocks the caller: `publish` returns a future, `publish_async` awaits it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.channel
import pika.frame
import pika.spec
import structlog
from pika.adapters.select_connection import SelectConnection

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
    future: concurrent.futures.Future[None]
    remaining: int
    message_ids: set[str] = field(default_factory=set)

    def settle(self, error: BaseException | None = None) -> None:
        self.remaining -= 1
        if error is not None:
            _fail(self.future, error)
        elif self.remaining == 0 and not self.future.done():
            with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled by its caller meanwhile
                self.future.set_result(None)


def _fail(future: concurrent.futures.Future[None], error: BaseException) -> None:
    if not future.done():
        with contextlib.suppress(concurrent.futures.InvalidStateError):  # cancelled by its caller meanwhile
            future.set_exception(error)


class Publisher:
    """One confirm-mode channel on its own thread; reconnects and re-declares by itself."""

    def __init__(self, url: str, declarations: Sequence[tuple[str, dict[str, Any]]], *, name: str) -> None:
        self._parameters = pika.URLParameters(url)
        self._parameters.client_properties = {"connection_name": name}
        self._parameters.connection_attempts = 1
        self._parameters.socket_timeout = 5
        self._parameters.blocked_connection_timeout = 30
        self._declarations = list(declarations)
        self._name = name
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._connection: SelectConnection | None = None
        self._channel: pika.channel.Channel | None = None
        self._delivery_tag = 0
        self._in_flight: dict[int, _Batch] = {}
        self._by_message_id: dict[str, _Batch] = {}
        self._outstanding: set[concurrent.futures.Future[None]] = set()

    # -- caller side -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; publishing fails fast until connected."""
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until connected and queues are declared."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        """Connected, queues declared."""
        return self._ready.is_set()

    def publish(self, messages: Sequence[Outgoing]) -> concurrent.futures.Future[None]:
        """Send messages; the future completes when RabbitMQ has confirmed every one."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        connection = self._connection
        if not messages:
            future.set_result(None)
            return future
        if not self._ready.is_set() or connection is None:
            future.set_exception(PublishError("not connected to RabbitMQ"))
            return future
        with self._lock:
            self._outstanding.add(future)
        future.add_done_callback(self._forget)
        try:
            connection.ioloop.add_callback_threadsafe(lambda: self._send(list(messages), future))
        except Exception as exc:  # the I/O loop is closing
            _fail(future, PublishError(f"connection to RabbitMQ is closing: {exc}"))
        return future

    async def publish_async(self, messages: Sequence[Outgoing], *, timeout: float) -> None:
        """Send messages and wait for their confirms; PublishError or TimeoutError otherwise."""
        future = self.publish(messages)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and end the I/O thread."""
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):  # the loop is already gone
                connection.ioloop.add_callback_threadsafe(self._close)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._outstanding.discard(future)

    # -- I/O thread --------------------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            connection = SelectConnection(
                self._parameters,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_close,
            )
            self._connection = connection
            connection.ioloop.start()
            was_ready = self._ready.is_set()
            self._ready.clear()
            self._channel = None
            self._fail_all(PublishError("connection to RabbitMQ lost"))
            if was_ready:
                delay = 0.2
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, 5.0)

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        log.warning("publisher_connect_failed", publisher=self._name, error=str(error))
        connection.ioloop.stop()

    def _on_close(self, connection: Any, reason: BaseException) -> None:
        if not self._stopping.is_set():
            log.warning("publisher_disconnected", publisher=self._name, reason=str(reason))
        connection.ioloop.stop()

    def _on_channel_open(self, channel: pika.channel.Channel) -> None:
        self._channel = channel
        self._delivery_tag = 0
        channel.add_on_close_callback(self._on_channel_close)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm, callback=lambda _: self._declare(0))

    def _on_channel_close(self, channel: Any, reason: BaseException) -> None:
        if not self._stopping.is_set():
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
            self._ready.set()
            return
        name, arguments = self._declarations[index]
        channel.queue_declare(name, durable=True, arguments=arguments, callback=lambda _: self._declare(index + 1))

    def _send(self, messages: list[Outgoing], future: concurrent.futures.Future[None]) -> None:
        channel = self._channel
        if future.done():
            return
        if channel is None or not channel.is_open:
            _fail(future, PublishError("not connected to RabbitMQ"))
            return
        batch = _Batch(future, len(messages))
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
            batch.settle(None if acked else PublishError("RabbitMQ refused the message (nack)"))
            if batch.remaining == 0:
                for message_id in batch.message_ids:
                    if self._by_message_id.get(message_id) is batch:
                        del self._by_message_id[message_id]

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        batch = self._by_message_id.get(properties.message_id)
        log.error("publish_unroutable", publisher=self._name, queue=method.routing_key, reply=method.reply_text)
        if batch is not None:
            _fail(batch.future, PublishError(f"queue {method.routing_key!r} does not exist"))
        self._declare_again()

    def _declare_again(self) -> None:
        self._ready.clear()
        self._declare(0)

    def _fail_all(self, error: PublishError) -> None:
        self._in_flight.clear()
        self._by_message_id.clear()
        with self._lock:
            outstanding = list(self._outstanding)
        for future in outstanding:
            _fail(future, error)

    def _close(self) -> None:
        if self._connection is not None and not (self._connection.is_closing or self._connection.is_closed):
            self._connection.close()
        elif self._connection is not None:
            self._connection.ioloop.stop()
