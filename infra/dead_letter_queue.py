"""Dead-letter queues in RabbitMQ (`<queue>.XQ`): take out the messages of jobs that are no
dead letters any more, so that the management console shows what GET /v1/dead-letters lists.

RabbitMQ cannot delete one message from the middle of a queue. A sweep takes every message
with `basic_get` on a connection of its own without acknowledging it (so the next get moves
on), acknowledges (deletes) the stale ones, and puts the others back with one
`basic_nack(requeue=True)`: RabbitMQ returns them to their places. Stale are the messages of
the jobs just replayed or purged (`targets`: job id → its attempts then) sent for one of
those attempts (the `attempt` option Conveyor puts on every message; a message sent for a
later attempt is no old dead letter), and those the caller's `stale` names. Should the process die
mid-way, the connection closes and RabbitMQ puts every unacknowledged message back: a sweep
can only ever delete the messages it was told to. pika blocks: call `sweep` off the event
loop. Two sweeps of one queue at once would each miss the messages the other holds; the
caller keeps them apart (infra/dead_letters.py takes a PostgreSQL advisory lock).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import structlog

log = structlog.get_logger(__name__)

#: Messages taken before the caller is asked which of them are stale.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Sweep:
    """What a sweep of one queue did; `complete`: it saw every message (no bound, no error)."""

    queue: str
    removed: int
    kept: int
    complete: bool


@dataclass(frozen=True, slots=True)
class Taken:
    """A message held unacknowledged: its delivery tag, job id and attempt (None: unknown)."""

    tag: int
    job_id: str | None
    attempt: int | None


def message_job_id(properties: Any, body: bytes) -> tuple[str | None, int | None]:
    """The job id and attempt of a Dramatiq message: its message_id property (set by Conveyor's
    publisher) or the `message_id` of its JSON body (Dramatiq's own enqueue sets no property),
    and the `attempt` option of the body."""
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    decoded = decoded if isinstance(decoded, dict) else {}
    value = getattr(properties, "message_id", None) or decoded.get("message_id")
    options = decoded.get("options")
    attempt = options.get("attempt") if isinstance(options, dict) else None
    return (
        value if isinstance(value, str) else None,
        attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
    )


def superseded(targets: Mapping[str, int], message: Taken) -> bool:
    """Whether a message is the old dead letter of a job just replayed or purged."""
    if message.job_id is None or message.attempt is None or message.job_id not in targets:
        return False
    return message.attempt <= targets[message.job_id]


def sweep(
    url: str,
    queue: str,
    stale: Callable[[Sequence[str]], set[str]],
    *,
    targets: Mapping[str, int] | None = None,
    max_messages: int = 100_000,
    seconds: float = 20.0,
) -> Sweep:
    """Delete the messages of `queue` that are old dead letters of `targets`, or whose job ids
    `stale` returns (it is given a chunk of ids at a time); keep every other message, in its
    place. Looks at no more than `max_messages` messages and stops starting new chunks after
    `seconds`. Blocking."""
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": "conveyor-dead-letter-sweep"}
    parameters.connection_attempts = 1
    parameters.socket_timeout = 5
    removed = kept = 0
    complete = False
    deadline = time.monotonic() + seconds
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPError as exc:
        log.warning("dead_letter_sweep_failed", queue=queue, error=str(exc) or type(exc).__name__)
        return Sweep(queue, 0, 0, complete=False)
    try:
        channel = connection.channel()
        try:
            channel.queue_declare(queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return Sweep(queue, 0, 0, complete=True)  # no such queue: nothing to remove
        while removed + kept < max_messages and time.monotonic() < deadline:
            taken, empty = _take(channel, queue, min(CHUNK, max_messages - removed - kept))
            if taken:
                old = {m.tag for m in taken if superseded(targets or {}, m)}
                drop = stale([m.job_id for m in taken if m.job_id is not None and m.tag not in old])
                for message in taken:
                    if message.tag in old or message.job_id in drop:
                        channel.basic_ack(message.tag)
                        removed += 1
                    else:
                        kept += 1
            if empty:
                complete = True
                break
        if kept:
            channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
    except Exception as exc:  # RabbitMQ or the caller's lookup failed: what is unacknowledged goes back
        log.warning("dead_letter_sweep_failed", queue=queue, error=str(exc) or type(exc).__name__)
        complete = False
    finally:
        if connection.is_open:
            connection.close()
    return Sweep(queue, removed, kept, complete)


def _take(channel: Any, queue: str, count: int) -> tuple[list[Taken], bool]:
    """Up to `count` messages, left unacknowledged; whether the queue ran empty."""
    taken: list[Taken] = []
    while len(taken) < count:
        method, properties, body = channel.basic_get(queue, auto_ack=False)
        if method is None:
            return taken, True
        taken.append(Taken(method.delivery_tag, *message_job_id(properties, body)))
    return taken, False
