"""Live streams: Server-Sent Events and the WebSocket, resumed without a loss or a repeat."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from infra.db import connect
from infra.event_hub import EventHub
from schemas.events import EventFilter
from tests.integration.conftest import MakeSystem
from tests.support.api import submit, wait_for_status
from tests.support.streams import open_stream
from tests.support.system import System, eventually

LIFE = ["job.queued", "job.started", "job.succeeded"]


async def logged(http: httpx.AsyncClient, after: int = 0) -> list[int]:
    """The ids of every event of the tenant after `after`, from GET /v1/events."""
    response = await http.get("/v1/events", params={"after": after, "limit": 1000})
    assert response.status_code == 200, response.text
    return [event["id"] for event in response.json()["items"]]


async def test_sse_sends_a_jobs_events_live_in_order(client: httpx.AsyncClient) -> None:
    async with open_stream(client) as stream:
        # Given a stream opened before the job exists (it starts with the next event)
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        # When a job runs
        job = await submit(client, "echo", {"value": 7})
        received = await stream.events(3)
    # Then its events come as they happen, in order, as GET /v1/events shows them
    assert [(e["event"], e["data"]["job_id"]) for e in received] == [(kind, job["id"]) for kind in LIFE]
    assert [e["id"] for e in received] == await logged(client)
    assert received[-1]["data"]["data"]["result"] == {"value": 7}


async def test_sse_resumed_with_last_event_id_gets_what_happened_while_away(client: httpx.AsyncClient) -> None:
    # Given a client that read the first event of a job, then left
    async with open_stream(client, {"after": 0}) as stream:
        first = await submit(client, "echo", {"value": 1})
        seen = [await stream.next_event()]
    await wait_for_status(client, first["id"], "succeeded")
    second = await submit(client, "echo", {"value": 2})  # happens entirely while it is away
    await wait_for_status(client, second["id"], "succeeded")
    # When it comes back with Last-Event-ID (and an older ?after=, which the header overrides)
    async with open_stream(client, {"after": 0}, {"Last-Event-ID": str(seen[0]["id"])}) as stream:
        seen += await stream.events(5)
        third = await submit(client, "echo", {"value": 3})
        seen += await stream.events(3)
    # Then it has every event once, in order: both jobs' and the new one's
    assert [e["id"] for e in seen] == await logged(client)
    assert [e["data"]["job_id"] for e in seen] == [first["id"]] * 3 + [second["id"]] * 3 + [third["id"]] * 3


async def test_sse_resumes_across_a_gateway_restart_without_a_loss(make_system: MakeSystem) -> None:
    system = await make_system(stream_keepalive_seconds=0.2)
    system.start_all()
    key = await system.api_key("restart")
    seen: list[dict[str, Any]] = []
    async with system.client(key) as http:
        # Given a client following a job that sleeps
        async with open_stream(http, {"after": 0}) as stream:
            job = await submit(http, "sleep", {"seconds": 1.0})
            seen += await stream.until("job.started", job["id"])
            # When the gateway restarts under it while the job finishes
            system.stop("gateway")
            seen += await stream.to_the_end()
        pool = await system.pool()
        try:
            done = "SELECT status = 'succeeded' FROM jobs WHERE id = $1"
            await eventually(lambda: pool.fetchval(done, job["id"]), timeout=20, message="the job to finish")
        finally:
            await pool.close()
        system.start_gateway()
        async with open_stream(http, headers={"Last-Event-ID": str(seen[-1]["id"])}) as stream:
            seen += await stream.until("job.succeeded", job["id"])
            later = await submit(http, "echo", {"value": 1})
            seen += await stream.until("job.succeeded", later["id"])
            # Then quiet spells carry keep-alive comments
            while "comment" not in await stream.next_item():
                continue
        # Then nothing was missed or repeated
        assert [e["id"] for e in seen] == await logged(http)
        assert {e["data"]["job_id"] for e in seen} == {job["id"], later["id"]}
        assert stream.comments >= 2  # the opening comment, then a keep-alive


def ws_url(system: System, query: str = "") -> str:
    return system.base_url.replace("http://", "ws://") + "/v1/ws" + query


async def test_websocket_with_the_key_in_the_header_gets_the_events(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    key = client.headers["authorization"].removeprefix("Bearer ")
    async with websockets.connect(ws_url(shared_system), additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        await ws.send(json.dumps({"subscribe": {"type": "job.*"}, "after": 0}))
        job = await submit(client, "echo", {"value": 1})
        received = [json.loads(await ws.recv()) for _ in range(3)]
    assert [(e["type"], e["job_id"]) for e in received] == [(kind, job["id"]) for kind in LIFE]
    assert [e["id"] for e in received] == await logged(client)


async def test_websocket_with_the_key_as_first_message_resumes_after_an_id(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    key = client.headers["authorization"].removeprefix("Bearer ")
    job = await submit(client, "echo", {"value": 1})
    await wait_for_status(client, job["id"], "succeeded")
    ids = await logged(client)
    async with websockets.connect(ws_url(shared_system)) as ws:
        await ws.send(json.dumps({"auth": key}))
        await ws.send(json.dumps({"subscribe": {"job_id": job["id"]}, "after": ids[0]}))
        received = [json.loads(await ws.recv()) for _ in range(2)]
    assert [e["id"] for e in received] == ids[1:]


@pytest.mark.parametrize("query", ["?key={key}", "?token={key}", "?authorization=Bearer%20{key}"])
async def test_websocket_refuses_a_key_in_the_url(client: httpx.AsyncClient, shared_system: System, query: str) -> None:
    key = client.headers["authorization"].removeprefix("Bearer ")
    async with websockets.connect(ws_url(shared_system, query.format(key=key))) as ws:
        await ws.send(json.dumps({"subscribe": {}}))
        answer = json.loads(await ws.recv())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert answer["error"]["error"] == "unauthorized"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert not any(key in json.dumps(line) for line in shared_system.logs("gateway"))


async def test_websocket_refuses_a_bad_subscription_naming_the_field(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    key = client.headers["authorization"].removeprefix("Bearer ")
    for message, field in [
        ({"subscribe": {"type": ["job.exploded"]}}, "type"),
        ({"subscribe": {"job_id": "nope"}}, "subscribe.job_id"),
        ({"subscribe": {}, "after": "x"}, "after"),
    ]:
        async with websockets.connect(
            ws_url(shared_system), additional_headers={"Authorization": f"Bearer {key}"}
        ) as ws:
            await ws.send(json.dumps(message))
            answer = json.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert [e["field"] for e in answer["error"]["errors"]] == [field], answer
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4422


INSERT_EVENT = "INSERT INTO events (tenant, type, data) VALUES ('t', 'job.queued', '{}') RETURNING id"


async def test_the_hub_holds_events_behind_an_uncommitted_id_and_skips_a_rolled_back_one(database_url: str) -> None:
    hub = EventHub(database_url, poll_seconds=0.2)
    hub.start()
    early, late = await connect(database_url), await connect(database_url)
    try:
        assert await hub.wait_ready(10)
        subscription = hub.subscribe("t", EventFilter())
        for outcome in ("commit", "rollback"):
            # Given a transaction that took an event id and has not ended, whose transaction id
            # is above that of the one that commits the next event id (so above the snapshot's xmax)
            first, second = early.transaction(), late.transaction()
            await first.start()
            await early.execute("SELECT pg_current_xact_id()")
            await second.start()
            await late.execute("SELECT pg_current_xact_id()")
            held = await late.fetchval(INSERT_EVENT)
            later = await early.fetchval(INSERT_EVENT)
            await first.commit()

            async def waiting(held: int = held) -> bool:
                return hub.gaps == [held]

            await eventually(waiting, timeout=10, message="the hub to see the gap")
            # Then the later event waits, read after read, for the earlier one's transaction to end
            assert await subscription.next(idle=0.2) == []
            await (second.commit() if outcome == "commit" else second.rollback())
            passed: list[int] = []
            while later not in passed:
                passed += [event.id for event in await subscription.next(idle=10)]
            # committed: both, in id order; rolled back: the later one only
            assert passed == ([held, later] if outcome == "commit" else [later])
    finally:
        await hub.close()
        await early.close()
        await late.close()


async def test_a_hub_nobody_follows_reads_on_its_poll_and_catches_up_for_a_new_stream(database_url: str) -> None:
    hub = EventHub(database_url, poll_seconds=60)
    hub.start()
    conn = await connect(database_url)
    try:
        assert await hub.wait_ready(10)
        reads = hub.reads
        # Given a hub nobody follows, and events written and notified one by one
        written = []
        for _ in range(5):
            written.append(await conn.fetchval(INSERT_EVENT))
            await conn.execute("SELECT pg_notify('conveyor_events', '')")
        await asyncio.sleep(0.5)
        # Then it leaves them to its poll (a minute away)
        assert hub.reads == reads
        # When a stream is about to subscribe, it asks for a read, which comes at once
        await asyncio.wait_for(hub.catch_up(10), 5)
        assert hub.reads == reads + 1
        assert hub.cursor == written[-1]
        # And once the hub is followed, it reads on each notification again
        subscription = hub.subscribe("t", EventFilter())
        later = await conn.fetchval(INSERT_EVENT)
        await conn.execute("SELECT pg_notify('conveyor_events', '')")
        assert [event.id for event in await subscription.next(idle=10)] == [later]
    finally:
        await hub.close()
        await conn.close()


async def test_a_transaction_in_another_database_does_not_hold_up_a_rolled_back_gap(
    database_url: str, template_url: str
) -> None:
    hub = EventHub(database_url, poll_seconds=0.2)
    hub.start()
    mine, elsewhere = await connect(database_url), await connect(template_url)
    try:
        assert await hub.wait_ready(10)
        subscription = hub.subscribe("t", EventFilter())
        # Given a write transaction left open in another database of the cluster (it holds the
        # cluster's snapshot xmin back) and an event id taken and rolled back here
        outside = elsewhere.transaction()
        await outside.start()
        await elsewhere.execute("SELECT pg_current_xact_id()")
        gap = mine.transaction()
        await gap.start()
        await mine.fetchval(INSERT_EVENT)
        await gap.rollback()
        # When the next event commits
        later = await mine.fetchval(INSERT_EVENT)
        # Then it is passed on while the other database's transaction is still open
        passed: list[int] = []
        while later not in passed:
            passed += [event.id for event in await subscription.next(idle=10)]
        assert passed == [later]
        await outside.rollback()
    finally:
        await hub.close()
        await mine.close()
        await elsewhere.close()


async def test_the_hub_reconnects_after_losing_its_connection_and_misses_nothing(database_url: str) -> None:
    hub = EventHub(database_url, poll_seconds=0.2)
    hub.start()
    conn = await connect(database_url)
    try:
        assert await hub.wait_ready(10)
        subscription = hub.subscribe("t", EventFilter())
        # Given the hub's connection is cut (as a database restart cuts it)
        cut = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'conveyor-gateway-events' AND datname = current_database()"
        )
        assert cut == 1
        # When events are written while it is away
        written = [await conn.fetchval(INSERT_EVENT) for _ in range(3)]
        # Then it comes back and passes them on from where it was
        passed: list[int] = []
        while len(passed) < 3:
            passed += [event.id for event in await subscription.next(idle=10)]
        assert passed == written
    finally:
        await hub.close()
        await conn.close()


async def test_open_streams_end_once_their_key_is_revoked(make_system: MakeSystem) -> None:
    system = await make_system(key_cache_seconds=0.5, stream_keepalive_seconds=0.2)
    system.start_gateway()
    key = await system.api_key("revoked-streams")
    headers = {"Authorization": f"Bearer {key}"}
    # Given an SSE stream and a WebSocket open with one key
    async with (
        system.client(key) as http,
        open_stream(http, {"after": 0}) as stream,
        websockets.connect(ws_url(system), additional_headers=headers) as ws,
    ):
        await ws.send(json.dumps({"subscribe": {}}))
        assert "comment" in await stream.next_item()
        # When the key is revoked
        key_id = (await system.cli("keys", "list", "--tenant", "revoked-streams")).splitlines()[1].split()[0]
        assert "revoked" in await system.cli("keys", "revoke", key_id)
        # Then both end: the stream runs out, the socket closes saying why
        await stream.to_the_end()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await until_closed(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def until_closed(ws: websockets.ClientConnection) -> None:
    """Read a socket's messages until it closes."""
    while True:
        await ws.recv()
