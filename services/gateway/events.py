"""/v1/events: the tenant's event log as pages, as Server-Sent Events, and over a WebSocket (/v1/ws).

Streams read the table after the client's last event id, then follow this process's event hub
(infra/event_hub.py), so a client may reconnect to any gateway and miss nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Annotated, Any, TypeVar

import msgspec
import structlog
from litestar import Controller, WebSocket, get, websocket
from litestar.di import Provide
from litestar.exceptions import WebSocketDisconnect
from litestar.params import HeaderParameter, Parameter, QueryParameter
from litestar.response import Stream

from infra import events, keys
from infra.db import is_unavailable
from infra.event_hub import EventHub, StreamsEnded, SubscriberDropped, follow
from infra.events import Published
from infra.keys import Principal
from schemas.errors import ErrorBody, FieldError, field_error
from schemas.events import EVENT_PATTERNS, EVENT_TYPES, EventFilter, EventPage, StreamSubscribe, type_errors
from schemas.keys import Scope
from services.gateway.auth import KeyCache, requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.gateway.paging import text_filters

log = structlog.get_logger("conveyor.gateway")

M = TypeVar("M")
#: The largest event id a client may name: 2**53, the largest integer every JSON reader keeps exact.
MAX_ID = 2**53
#: How long a stream waits for the hub to know where the log stands (at start-up) before 503.
READY_SECONDS = 10.0
#: How long a WebSocket client has to send its key and its subscription.
HANDSHAKE_SECONDS = 10.0

After = Annotated[
    int | None,
    Parameter(ge=0, le=MAX_ID, description="Only events after this event id", schema_extra={"minimum": 0}),
]
JobFilterId = Annotated[uuid.UUID | None, Parameter(description="Events of this job")]
WorkflowFilterId = Annotated[uuid.UUID | None, Parameter(description="Events of this workflow")]
Tags = Annotated[list[str] | None, Parameter(description="Events carrying every one of these tags")]
Types = Annotated[
    list[str] | None,
    QueryParameter(
        name="type",
        description="Any of these types, or `job.*`, `workflow.*`, `*`",
        schema_extra={"items": {"type": "string", "enum": [*EVENT_TYPES, *EVENT_PATTERNS]}},
    ),
]


def checked(where: EventFilter) -> EventFilter:
    """The filter of a listing or stream; 422 naming `tag` or `type` if it cannot be."""
    text_filters(tag=where.tags)
    if bad := type_errors(where.types):
        message = f"unknown event type {bad[0]!r}: an event type, job.*, workflow.* or *"
        raise ApiError(422, "invalid_request", f"type: {message}", [FieldError("type", message)])
    return where


def resume_point(after: int | None, last_event_id: str | None) -> int | None:
    """Where a stream resumes: the Last-Event-ID a reconnecting client sends, else `after`."""
    if last_event_id is None:
        return after
    if not last_event_id.strip().isdigit() or int(last_event_id) > MAX_ID:
        raise ApiError(
            422,
            "invalid_request",
            "Last-Event-ID is not an event id",
            [FieldError("Last-Event-ID", "must be an event id (a non-negative integer)")],
        )
    return int(last_event_id)


async def ready_hub(resources: Resources) -> EventHub:
    """The process's event hub once it knows where the log stands; 503 if it does not soon."""
    if not await resources.events.wait_ready(READY_SECONDS):
        raise ApiError(503, "unavailable", "the event log cannot be followed now; try again shortly")
    return resources.events


class EventController(Controller):
    """The event log of the caller's tenant."""

    path = "/v1/events"
    tags = ["events"]
    guards = [requires(Scope.JOBS_READ)]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", summary="Past events, oldest first")
    async def list_events(
        self,
        resources: Resources,
        principal: Principal,
        after: After = 0,
        job_id: JobFilterId = None,
        workflow_id: WorkflowFilterId = None,
        tag: Tags = None,
        types: Types = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> EventPage:
        """A page of the tenant's events; pass `next_after` back as `after` for the next one."""
        where = checked(EventFilter(job_id=job_id, workflow_id=workflow_id, tags=tag or None, types=types or None))
        items = await events.list_events(resources.pool, principal.tenant, where, after=after or 0, limit=limit + 1)
        more = len(items) > limit
        return EventPage(items=items[:limit], next_after=items[limit - 1].id if more else None)

    @get("/stream", summary="Events as they happen (Server-Sent Events)")
    async def stream(
        self,
        resources: Resources,
        principal: Principal,
        after: After = None,
        job_id: JobFilterId = None,
        workflow_id: WorkflowFilterId = None,
        tag: Tags = None,
        types: Types = None,
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
    ) -> Stream:
        """`text/event-stream`: `id:` the event id, `event:` its type, `data:` the event as JSON.

        Starts after `Last-Event-ID` (sent by a reconnecting client), else after `after`, else
        with the next event. A comment line comes every CONVEYOR_STREAM_KEEPALIVE_SECONDS of
        quiet; a client that falls behind by CONVEYOR_STREAM_BUFFER_EVENTS is disconnected.
        """
        where = checked(EventFilter(job_id=job_id, workflow_id=workflow_id, tags=tag or None, types=types or None))
        start = resume_point(after, last_event_id)
        hub = await ready_hub(resources)
        frames = sse_frames(hub, resources, principal, where, start)
        return Stream(
            frames,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


class KeyRevoked(Exception):
    """The key a stream was opened with has been revoked since."""


async def while_key_lives(
    batches: AsyncIterator[list[Published]], resources: Resources, principal: Principal
) -> AsyncIterator[list[Published]]:
    """`batches`, until the key they are read with is found revoked: it is looked at again
    every CONVEYOR_KEY_CACHE_SECONDS (a stream yields at least each quiet interval), so a
    revoked key stops an open stream as soon as it stops a request."""
    every = resources.settings.key_cache_seconds
    checked_at = time.monotonic()
    async for batch in batches:
        if time.monotonic() - checked_at >= every:
            if not await keys.key_is_live(resources.pool, principal.key_id):
                raise KeyRevoked()
            checked_at = time.monotonic()
        yield batch


async def sse_frames(
    hub: EventHub, resources: Resources, principal: Principal, where: EventFilter, after: int | None
) -> AsyncIterator[bytes]:
    """The frames of one SSE stream (a comment for each quiet interval)."""
    keepalive = resources.settings.stream_keepalive_seconds
    tenant = principal.tenant
    sent, live = time.monotonic(), False  # follow's first empty batch says: subscribed, live from here
    try:
        # quiet spells end at least every key check; a comment goes out once a keep-alive is due
        idle = min(keepalive, resources.settings.key_cache_seconds)
        batches = follow(hub, resources.pool, tenant, where, after, idle=idle)
        async for batch in while_key_lives(batches, resources, principal):
            if batch:
                yield b"".join(event.sse for event in batch)
            elif not live or time.monotonic() - sent >= keepalive:
                live = True
                yield b": keep-alive\n\n"
            else:
                continue
            sent = time.monotonic()
    except SubscriberDropped:
        log.info("stream_closed_slow_client", tenant=tenant)
    except KeyRevoked:
        log.info("stream_closed_key_revoked", tenant=tenant, key_id=str(principal.key_id))
    except StreamsEnded:
        return


def end_streams_on_stop(hub: EventHub) -> None:
    """Make SIGTERM and SIGINT end the hub's streams before the server's own handler runs.

    uvicorn waits for open connections to finish before it stops the app, and a stream never
    finishes by itself; its clients resume from their last event id. Only in the main thread,
    where the server has installed its handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: FrameType | None, previous: Callable[..., Any] = previous) -> None:
            loop.call_soon_threadsafe(hub.end_streams)
            previous(signum, frame)

        signal.signal(sig, handler)


class WsError(Exception):
    """An error sent to a WebSocket client before closing with `code`."""

    def __init__(self, code: int, body: ErrorBody) -> None:
        super().__init__(body.detail)
        self.code = code
        self.body = body


def ws_error(code: int, error: str, detail: str, field: str | None = None) -> WsError:
    """A WsError naming the field at fault."""
    return WsError(code, ErrorBody(error=error, detail=detail, errors=[FieldError(field, detail)] if field else []))


@websocket("/v1/ws", name="events-ws")
async def events_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Events over a WebSocket: the key in the Authorization header or as the first message
    `{"auth": "<key>"}` (never in the URL), then `{"subscribe": {filters}, "after": id?}`;
    each event is one JSON message; errors are `{"error": {...}}` and a 4xxx close code."""
    await socket.accept()
    try:
        resources: Resources = socket.app.state.resources
        principal = await ws_principal(socket)
        structlog.contextvars.bind_contextvars(tenant=principal.tenant)
        request = await ws_message(socket, StreamSubscribe)
        if request.after is not None and not 0 <= request.after <= MAX_ID:
            raise ws_error(4422, "invalid_request", "after must be an event id", "after")
        try:
            where = checked(request.subscribe.to_filter())
        except ApiError as exc:
            raise WsError(4422, ErrorBody(error=exc.code, detail=exc.detail, errors=exc.errors)) from None
        if not await resources.events.wait_ready(READY_SECONDS):
            raise ws_error(4503, "unavailable", "the event log cannot be followed now; try again shortly")
        await ws_pump(socket, resources, principal, where, request.after)
    except WsError as exc:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await socket.send_text(msgspec.json.encode({"error": exc.body}).decode())
            await socket.close(exc.code, exc.body.error)
    except WebSocketDisconnect:
        pass
    except Exception as exc:  # a bug, or PostgreSQL gone: the client learns only that
        unavailable = is_unavailable(exc)
        if not unavailable:
            log.exception("websocket_crashed", error_type=type(exc).__name__)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await socket.close(4503 if unavailable else 1011, "unavailable" if unavailable else "internal_error")


class Auth(msgspec.Struct, forbid_unknown_fields=True):
    """A WebSocket client's first message when its handshake carried no key."""

    auth: str


async def ws_principal(socket: WebSocket[Any, Any, Any]) -> Principal:
    """Who the socket acts for: the bearer key of the handshake, else of the first message."""
    scheme, _, secret = socket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        secret = (await ws_message(socket, Auth, unauthorized=True)).auth
    cache: KeyCache = socket.app.state.key_cache
    principal = await cache.principal(secret.strip())
    if principal is None:
        raise ws_error(4401, "unauthorized", "invalid or revoked API key")
    if Scope.JOBS_READ not in principal.scopes and Scope.ADMIN not in principal.scopes:
        raise ws_error(4403, "forbidden", "this API key lacks the 'jobs:read' scope")
    return principal


async def ws_message(socket: WebSocket[Any, Any, Any], kind: type[M], *, unauthorized: bool = False) -> M:
    """The client's next message as `kind`; 4422 naming the field (4401 for a missing key)."""
    try:
        text = await asyncio.wait_for(socket.receive_data("text"), HANDSHAKE_SECONDS)
    except TimeoutError:
        raise ws_error(4408, "timeout", f"nothing came within {HANDSHAKE_SECONDS:.0f} s") from None
    try:
        return msgspec.json.decode(text, type=kind)
    except msgspec.DecodeError as exc:  # ValidationError included
        if unauthorized:
            raise ws_error(4401, "unauthorized", 'send the key first: {"auth": "<key>"}', "auth") from None
        error = field_error(str(exc), "")
        raise WsError(4422, ErrorBody(error="invalid_request", detail=str(exc), errors=[error])) from None


async def ws_pump(
    socket: WebSocket[Any, Any, Any], resources: Resources, principal: Principal, where: EventFilter, after: int | None
) -> None:
    """Send the events until the client leaves (or falls too far behind: 4408; its key is
    revoked: 4401)."""
    tenant = principal.tenant
    idle = min(30.0, resources.settings.key_cache_seconds)

    async def send() -> None:
        batches = follow(resources.events, resources.pool, tenant, where, after, idle=idle)
        async for batch in while_key_lives(batches, resources, principal):
            for event in batch:
                await socket.send_text(event.json.decode())

    async def receive() -> None:  # the client has nothing more to say but goodbye
        while (await socket.receive())["type"] != "websocket.disconnect":
            continue

    sender = asyncio.create_task(send())
    receiver = asyncio.create_task(receive())
    try:
        done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if sender in done and isinstance(sender.exception(), StreamsEnded):
            raise WsError(
                1001, ErrorBody(error="going_away", detail="the gateway is stopping; resume after the last event id")
            )
        if sender in done and isinstance(sender.exception(), KeyRevoked):
            log.info("stream_closed_key_revoked", tenant=tenant, key_id=str(principal.key_id))
            raise ws_error(4401, "unauthorized", "the API key was revoked")
        if sender in done and isinstance(sender.exception(), SubscriberDropped):
            log.info("stream_closed_slow_client", tenant=tenant)
            raise ws_error(4408, "too_slow", "the client fell too far behind; resume after its last event id")
        if sender in done and (exc := sender.exception()) is not None:
            raise exc
    finally:
        for task in (sender, receiver):
            task.cancel()
        await asyncio.gather(sender, receiver, return_exceptions=True)
