"""The event hub of a gateway process: one reader of the event log for all its streams.

One connection LISTENs on `conveyor_events`. A notification (or a poll, every second, in case
one was missed or the connection was lost) reads every tenant's events after the hub's cursor;
those the Sequencer lets pass are handed to the subscribers whose tenant and filter match.
Notifications that arrive while a read runs only ask for one more read. While nobody follows
the hub, it reads only on its poll (the workers' notifications would have it read the log
hundreds of times a second for nobody); a stream that comes then first asks for a read
(`catch_up`), so that it starts from a cursor that is not a second old.

Each subscriber has a bounded buffer: one that falls behind by more than it holds is dropped
(its stream closes, and the client resumes from its last event id) rather than slowing the
hub or growing without bound.

`follow()` is a stream's whole life: the table up to the hub's cursor, then the hub's events
after it, so that nothing is missed or sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog

from infra.db import RETRYABLE, connect
from infra.event_order import Sequencer
from infra.events import Published, published_events
from infra.sql import QUERIES
from schemas.events import EventFilter

log = structlog.get_logger("conveyor.events")

CHANNEL = "conveyor_events"
#: Events per read of the log (the hub's and a stream's catch-up).
PAGE = 500
#: A connection that followed the log this long before it failed resets the retry delay;
#: one failing sooner (a fault that repeats) backs off up to 5 s between tries.
HEALTHY_SECONDS = 10.0
#: How long a stream waits for the read `EventHub.catch_up` asks for (it subscribes anyway after).
CATCH_UP_SECONDS = 2.0


class SubscriberDropped(Exception):
    """The subscriber fell further behind than its buffer holds; its stream must close."""


class StreamsEnded(Exception):
    """The process is stopping: its streams end (their clients resume from their last event id)."""


class Subscription:
    """One stream's place at the hub: the live events after `start` that match, buffered."""

    def __init__(self, tenant: str, where: EventFilter, start: int, capacity: int) -> None:
        self.tenant = tenant
        self.where = where
        self.start = start
        self.dropped = False
        self.ended = False
        self._capacity = capacity
        self._items: deque[Published] = deque()
        self._wake = asyncio.Event()

    def offer(self, events: list[Published]) -> bool:
        """Buffer events (in id order); False (and dropped) if the buffer cannot hold them."""
        if len(self._items) + len(events) > self._capacity:
            self.dropped = True
            self._items.clear()
            self._wake.set()
            return False
        self._items.extend(events)
        self._wake.set()
        return True

    def end(self) -> None:
        """No more events: the next call of `next` raises StreamsEnded once the buffer is empty."""
        self.ended = True
        self._wake.set()

    async def next(self, idle: float) -> list[Published]:
        """Every buffered event, waiting up to `idle` seconds for one ([] if none came)."""
        if not self._items and not self.dropped and not self.ended:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), idle)
        if self.dropped:
            raise SubscriberDropped
        if self.ended and not self._items:
            raise StreamsEnded
        items = list(self._items)
        self._items.clear()
        return items


class EventHub:
    """Reads the event log once for every stream of this process (see the module's docstring)."""

    def __init__(
        self, database_url: str, *, capacity: int = 1000, poll_seconds: float = 1.0, gap_seconds: float = 0.02
    ) -> None:
        self._url = database_url
        self._capacity = capacity
        self._poll = poll_seconds
        self._gap_poll = gap_seconds
        self._sequencer: Sequencer | None = None
        self._subscribers: dict[str, set[Subscription]] = {}
        self._wake = asyncio.Event()
        #: Set when a read is wanted even though nobody follows the hub yet (see `catch_up`).
        self._wanted = asyncio.Event()
        self._catching_up: list[asyncio.Future[None]] = []
        self._reads = 0
        self._ready = asyncio.Event()
        self._ending = False
        self._task: asyncio.Task[None] | None = None

    @property
    def cursor(self) -> int:
        """Every event at or below this id has been handed to the subscribers of its time."""
        assert self._sequencer is not None, "the hub is not ready"
        return self._sequencer.cursor

    @property
    def gaps(self) -> list[int]:
        """The missing ids the hub waits on before passing later ones."""
        return [] if self._sequencer is None else self._sequencer.gaps

    @property
    def reads(self) -> int:
        """How many times the hub has read the log (each read takes one or more pages)."""
        return self._reads

    @property
    def subscribers(self) -> int:
        """How many subscriptions are live."""
        return sum(len(subs) for subs in self._subscribers.values())

    def start(self) -> None:
        """Start reading (in a task of the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="event-hub")

    async def close(self) -> None:
        """Stop reading and end the streams."""
        self.end_streams()
        if self._task is not None:
            # Cancelled again until it ends: on Python 3.11 a wait_for whose awaitable completes
            # as the cancellation lands swallows it, and the reading loop would go on for good.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait_ready(self, timeout: float) -> bool:
        """Whether the hub knows its cursor (at start-up, once the first read settled)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def catch_up(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds) for a read of the log that begins after this call, if
        nobody follows the hub (it then reads only on its poll): a stream about to subscribe
        starts from a fresh cursor instead of being handed a second of events at once."""
        if self._subscribers:
            return
        done = asyncio.get_running_loop().create_future()
        self._catching_up.append(done)
        self._wanted.set()
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), timeout)

    def subscribe(self, tenant: str, where: EventFilter) -> Subscription:
        """A subscription to the events after the hub's cursor now (ended at once if the hub's
        streams are ending)."""
        subscription = Subscription(tenant, where, self.cursor, self._capacity)
        if not self._subscribers:  # the hub waits for its poll: from now on, for notifications
            self._wanted.set()
        self._subscribers.setdefault(tenant, set()).add(subscription)
        if self._ending:
            subscription.end()
        return subscription

    def end_streams(self) -> None:
        """End every subscription, now and to come (the process is stopping)."""
        self._ending = True
        for subs in self._subscribers.values():
            for subscription in subs:
                subscription.end()

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop buffering events for `subscription`."""
        subs = self._subscribers.get(subscription.tenant)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._subscribers[subscription.tenant]

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.2
        while True:
            conn: asyncpg.Connection | None = None
            began = time.monotonic()
            try:
                conn = await connect(self._url, application_name="conveyor-gateway-events")
                await conn.add_listener(CHANNEL, self._notified)
                await self._follow(conn)  # returns only by raising
            except RETRYABLE as exc:
                log.warning("event_hub_disconnected", error_type=type(exc).__name__, retry_in_s=delay)
            except Exception:  # a bug must not end the streams of this process for good
                log.exception("event_hub_failed", retry_in_s=delay)
            finally:
                if conn is not None:
                    with contextlib.suppress(*RETRYABLE):
                        await asyncio.shield(conn.close(timeout=2))
            if time.monotonic() - began > HEALTHY_SECONDS:  # it worked a while: a new fault, try soon
                delay = 0.2
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _follow(self, conn: asyncpg.Connection) -> None:
        if self._sequencer is None:
            row = await conn.fetchrow(QUERIES.hub_start)
            self._sequencer = Sequencer(row["last_id"], settles_at=row["next_xid"])
        sequencer = self._sequencer
        while True:  # a read at once after (re)connecting: notifications may have been missed
            self._wake.clear()
            self._wanted.clear()
            catching_up, self._catching_up = self._catching_up, []
            try:
                waiting_on_gap = await self._read(conn)
            finally:  # a failed read lets them go too: their streams only start a little behind
                for done in catching_up:
                    if not done.done():
                        done.set_result(None)
            followed = bool(self._subscribers or self._catching_up) or not sequencer.ready
            with contextlib.suppress(TimeoutError):
                if followed:
                    await asyncio.wait_for(self._wake.wait(), self._gap_poll if waiting_on_gap else self._poll)
                else:  # nobody to hand events to: notifications wait for the poll
                    await asyncio.wait_for(self._wanted.wait(), self._poll)

    async def _read(self, conn: asyncpg.Connection) -> bool:
        """Read and hand out until the log holds nothing more to pass; whether a gap holds it."""
        sequencer = self._sequencer
        assert sequencer is not None
        self._reads += 1
        while True:
            # only a gap (or the start) waits on running transactions: then ask, before the
            # read, how far this database's have ended (it may be past the cluster's xmin)
            settling = bool(sequencer.gaps) or not sequencer.ready
            horizon = await conn.fetchval(QUERIES.hub_horizon) if settling else 0
            rows = await conn.fetch(QUERIES.hub_events, sequencer.cursor, PAGE, list(self._subscribers))
            events = {row["id"]: row for row in rows if row["id"] is not None}
            passed = sequencer.advance(list(events), max(rows[0]["xmin"], horizon), rows[0]["next_xid"])
            if sequencer.ready:
                self._ready.set()
            self._hand_out(await self._whole(conn, [events[event_id] for event_id in passed]))
            if len(events) < PAGE or not passed:
                return len(passed) < len(events) or not sequencer.ready

    async def _whole(self, conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[asyncpg.Record]:
        """`rows`, each whole if its tenant is followed now (one may have gained a subscriber
        while the read that passed it by ran)."""
        bare = [row["id"] for row in rows if row["type"] is None and row["tenant"] in self._subscribers]
        if not bare:
            return rows
        whole = {row["id"]: row for row in await conn.fetch(QUERIES.hub_event_rows, bare)}
        return [whole.get(row["id"], row) for row in rows]

    def _hand_out(self, rows: list[asyncpg.Record]) -> None:
        """Buffer the events passed by one read for each subscriber they match (encoded once,
        and only if their tenant has a subscriber)."""
        by_tenant: dict[str, list[Published]] = {}
        for row in rows:
            if row["tenant"] in self._subscribers and row["type"] is not None:
                by_tenant.setdefault(row["tenant"], []).append(Published.from_row(_event_fields(row)))
        for tenant, published in by_tenant.items():
            for sub in list(self._subscribers.get(tenant, ())):
                matched = published if sub.where.is_empty else [e for e in published if sub.where.matches(e.view)]
                if matched and not sub.offer(matched):
                    self.unsubscribe(sub)
                    log.info("stream_subscriber_dropped", tenant=tenant, buffered=self._capacity)


def _event_fields(row: asyncpg.Record) -> dict[str, Any]:
    return {name: value for name, value in dict(row).items() if name not in ("xmin", "next_xid")}


async def follow(
    hub: EventHub, db: asyncpg.Pool, tenant: str, where: EventFilter, after: int | None, *, idle: float
) -> AsyncIterator[list[Published]]:
    """A stream: the tenant's events matching `where` after `after` (None: from now on), in id
    order, each once; batches as they come, an empty one once subscribed to the hub and after
    each `idle` quiet seconds.

    Raises SubscriberDropped when the reader fell too far behind the live events, and
    StreamsEnded when the hub ends its streams.
    """
    last = hub.cursor if after is None else after
    while True:  # far behind: from the table, without holding a buffer at the hub
        page = await published_events(db, tenant, where, after=last, until=hub.cursor, limit=PAGE)
        if page:
            last = page[-1].id
            yield page
        if len(page) < PAGE:
            break
    await hub.catch_up(CATCH_UP_SECONDS)
    subscription = hub.subscribe(tenant, where)
    try:
        yield []  # subscribed: nothing after this point can be missed
        while last < subscription.start:  # what the hub passed before the subscription began
            page = await published_events(db, tenant, where, after=last, until=subscription.start, limit=PAGE)
            if not page:
                break
            last = page[-1].id
            yield page
        while True:
            came = await subscription.next(idle)
            batch = [event for event in came if event.id > last]
            if batch:
                last = batch[-1].id
            if batch or not came:
                yield batch
    finally:
        hub.unsubscribe(subscription)
