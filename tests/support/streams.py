"""Reading the gateway's event streams in tests: Server-Sent Events over httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx


class SseReader:
    """The events of one `text/event-stream` response, parsed as the SSE spec reads them."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.comments = 0
        self._lines = response.aiter_lines()

    async def next_item(self) -> dict[str, Any]:
        """The next event (`id` as an int, `event` its type, `data` decoded JSON) or comment
        (`comment`: its text)."""
        fields: dict[str, str] = {}
        async for line in self._lines:
            if not line:
                if "data" in fields:
                    return {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
                continue
            if line.startswith(":"):
                self.comments += 1
                return {"comment": line[1:].strip()}
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    async def next_event(self) -> dict[str, Any]:
        """The next event, past any comments."""
        while "comment" in (item := await self.next_item()):
            continue
        return item

    async def events(self, count: int) -> list[dict[str, Any]]:
        """The next `count` events."""
        return [await self.next_event() for _ in range(count)]

    async def to_the_end(self) -> list[dict[str, Any]]:
        """The events still to come before the server ends the stream (or drops the connection)."""
        received = []
        try:
            while True:
                if "id" in (item := await self.next_item()):
                    received.append(item)
        except (EOFError, httpx.RemoteProtocolError, httpx.ReadError):
            return received

    async def until(self, event_type: str, job_id: str) -> list[dict[str, Any]]:
        """The events up to and including the first of `event_type` about job `job_id`."""
        received = [await self.next_event()]
        while (received[-1]["event"], received[-1]["data"]["job_id"]) != (event_type, job_id):
            received.append(await self.next_event())
        return received


@asynccontextmanager
async def open_stream(
    http: httpx.AsyncClient, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> AsyncIterator[SseReader]:
    """GET /v1/events/stream (200 expected), read with an SseReader."""
    async with http.stream("GET", "/v1/events/stream", params=params, headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        yield SseReader(response)
