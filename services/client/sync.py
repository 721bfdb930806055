"""`Client`: the API from ordinary (blocking) code."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
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


class Client(Api):
    """Conveyor's API at `url`, acting with the API key `key`.

    >>> with Client("http://127.0.0.1:8000", key) as conveyor:
    ...     job = conveyor.submit("general", "echo", {"value": 1})
    ...     conveyor.wait(job.id, timeout=30).result
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, headers=headers(key), timeout=timeout, transport=transport)

    def send(self, call: Call[T]) -> T:
        """Send one call; its answer (ConveyorError for an error answer)."""
        try:
            response = self.http.send(call.request(self.http))
        except httpx.TransportError as exc:
            raise unreachable(self.url, exc) from exc
        return call.answer(response)

    def run(
        self,
        engine: str,
        operation: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        **options: Any,
    ) -> JobView:
        """Submit a job and wait for it to end: its final view."""
        return self.wait(self.submit(engine, operation, params, **options).id, timeout=timeout)

    def wait(self, job_id: uuid.UUID | str, timeout: float | None = None) -> JobView:
        """Wait until a job ends (following the event stream): its final view; WaitTimeout past `timeout` s."""
        return self._wait(job_wait(job_id, timeout))

    def wait_workflow(self, workflow_id: uuid.UUID | str, timeout: float | None = None) -> WorkflowView:
        """Wait until a workflow ends: its final view with its nodes; WaitTimeout past `timeout` s."""
        return self._wait(workflow_wait(workflow_id, timeout))

    def _wait(self, wait: Wait[T]) -> T:
        view = self.send(wait.read)
        if wait.ended(view):
            return view
        for _ in self._follow(wait.follow):
            view = self.send(wait.read)
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
    ) -> Iterator[EventView]:
        """The tenant's events as they happen (after `after`: from the log first), resuming after a
        dropped connection without missing or repeating one; WaitTimeout past `timeout` s."""
        follow = Follow.of(job_id=job_id, workflow_id=workflow_id, tag=tag, type=type, after=after, timeout=timeout)
        return self._follow(follow)

    def _follow(self, follow: Follow) -> Iterator[EventView]:
        while True:
            try:
                response = self.http.send(follow.request(self.http), stream=True)
            except httpx.TransportError as exc:
                if not follow.connected:
                    raise unreachable(self.url, exc) from exc
                time.sleep(follow.pause())
                continue
            try:
                yield from self._read(follow, response)
            except httpx.TransportError:
                pass  # dropped: reopened after the last event seen
            finally:
                response.close()
            time.sleep(follow.pause())

    @staticmethod
    def _read(follow: Follow, response: httpx.Response) -> Iterator[EventView]:
        if response.is_error:
            response.read()
            raise error_from(response)
        follow.opened()
        for line in response.iter_lines():
            follow.check()
            if (event := follow.line(line)) is not None:
                yield event

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
