"""`AsyncClient`: the API from asyncio code."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

from schemas.events import EventView
from schemas.jobs import JobView
from schemas.workflows import WorkflowView
from services.client.api import Api, headers
from services.client.calls import Call
from services.client.errors import WaitTimeout, error_from, unreachable
from services.client.streams import Follow, Wait, job_wait, workflow_wait

T = TypeVar("T")


class AsyncClient(Api):
    """Conveyor's API at `url`, acting with the API key `key`; every call is awaited.

    >>> async with AsyncClient("http://127.0.0.1:8000", key) as conveyor:
    ...     job = await conveyor.submit("general", "echo", {"value": 1})
    ...     (await conveyor.wait(job.id, timeout=30)).result
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers(key), timeout=timeout, transport=transport)

    async def send(self, call: Call[T]) -> T:
        """Send one call; its answer (ConveyorError for an error answer)."""
        try:
            response = await self.http.send(call.request(self.http))
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        return call.answer(response)

    async def run(
        self,
        engine: str,
        operation: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        **options: Any,
    ) -> JobView:
        """Submit a job and wait for it to end: its final view."""
        job = await self.submit(engine, operation, params, **options)
        return await self.wait(job.id, timeout=timeout)

    async def wait(self, job_id: uuid.UUID | str, timeout: float | None = None) -> JobView:
        """Wait until a job ends (following the event stream): its final view; WaitTimeout past `timeout` s."""
        return await self._wait(job_wait(job_id, timeout))

    async def wait_workflow(self, workflow_id: uuid.UUID | str, timeout: float | None = None) -> WorkflowView:
        """Wait until a workflow ends: its final view with its nodes; WaitTimeout past `timeout` s."""
        return await self._wait(workflow_wait(workflow_id, timeout))

    async def _wait(self, wait: Wait[T]) -> T:
        view = await self.send(wait.read)
        if wait.ended(view):
            return view
        async for _ in self._follow(wait.follow):
            view = await self.send(wait.read)
            if wait.ended(view):
                return view
        raise WaitTimeout("the stream of events ended")

    def events(
        self,
        *,
        job_id: uuid.UUID | str | None = None,
        workflow_id: uuid.UUID | str | None = None,
        tag: Sequence[str] = (),
        type: Sequence[str] = (),
        after: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[EventView]:
        """The tenant's events as they happen (after `after`: from the log first), resuming after a
        dropped connection without missing or repeating one; WaitTimeout past `timeout` s."""
        follow = Follow.of(job_id=job_id, workflow_id=workflow_id, tag=tag, type=type, after=after, timeout=timeout)
        return self._follow(follow)

    async def _follow(self, follow: Follow) -> AsyncIterator[EventView]:
        while True:
            try:
                response = await self.http.send(follow.request(self.http), stream=True)
            except httpx.TransportError as exc:
                if not follow.connected:
                    raise unreachable(self.url, exc) from exc
                await asyncio.sleep(follow.pause())
                continue
            try:
                async for event in self._read(follow, response):
                    yield event
            except httpx.TransportError:
                pass  # dropped: reopened after the last event seen
            finally:
                await response.aclose()
            await asyncio.sleep(follow.pause())

    @staticmethod
    async def _read(follow: Follow, response: httpx.Response) -> AsyncIterator[EventView]:
        if response.is_error:
            await response.aread()
            raise error_from(response)
        follow.opened()
        async for line in response.aiter_lines():
            follow.check()
            if (event := follow.line(line)) is not None:
                yield event

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()
