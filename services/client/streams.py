"""Following the event stream (GET /v1/events/stream): its decoding, resuming, deadlines and waits.

The sync and async clients each run a short loop over these pieces; everything they decide
(what to ask for, where to resume, when to give up, whether a wait is over) is here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from schemas.events import EventView
from schemas.jobs import TERMINAL, JobView
from schemas.workflows import WorkflowView
from services.client.calls import Call, query
from services.client.errors import WaitTimeout
from services.client.jobs import Id, get_job, get_workflow

T = TypeVar("T")

#: How long a quiet stream is trusted before it is opened again (the gateway sends a comment
#: every CONVEYOR_STREAM_KEEPALIVE_SECONDS, 15 s by default).
QUIET_SECONDS = 60.0
#: Pauses between attempts to reopen a dropped stream.
RECONNECT_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
JOB_END_EVENTS = ("job.succeeded", "job.failed", "job.cancelled")
WORKFLOW_END_EVENTS = ("workflow.succeeded", "workflow.failed", "workflow.cancelled")
WORKFLOW_END = frozenset({"succeeded", "failed", "cancelled"})


class SseDecoder:
    """Lines of `text/event-stream` in, events out: the JSON `data:` of each message."""

    def __init__(self) -> None:
        self.data: list[str] = []
        self.decoder = msgspec.json.Decoder(EventView)

    def feed(self, line: str) -> EventView | None:
        """The event a blank line completes; None for any other line (fields, comments)."""
        if not line:
            data, self.data = self.data, []
            return self.decoder.decode("\n".join(data)) if data else None
        name, _, value = line.partition(":")
        if name == "data":
            self.data.append(value.removeprefix(" "))
        return None


@dataclass
class Follow:
    """One reader's place in the stream: its filters, the last event seen, its deadline."""

    filters: dict[str, Any]
    after: int | None = None
    deadline: float | None = None
    failures: int = 0
    connected: bool = False
    decoder: SseDecoder = field(default_factory=SseDecoder)

    @classmethod
    def of(
        cls,
        *,
        job_id: Id | None = None,
        workflow_id: Id | None = None,
        tag: Sequence[str] = (),
        type: Sequence[str] = (),
        after: int | None = None,
        timeout: float | None = None,
    ) -> Follow:
        """A reader of the events passing these filters, after `after` (None: only new ones)."""
        filters = {"job_id": job_id, "workflow_id": workflow_id, "tag": list(tag), "type": list(type)}
        deadline = None if timeout is None else time.monotonic() + timeout
        return cls(filters, after, deadline)

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request that (re)opens the stream after the last event seen."""
        self.check()
        remaining = QUIET_SECONDS if self.deadline is None else min(QUIET_SECONDS, self.remaining())
        timeout = httpx.Timeout(10.0, read=max(remaining, 0.01))
        params = query({**self.filters, "after": self.after})
        self.decoder = SseDecoder()
        return http.build_request("GET", "/v1/events/stream", params=params, timeout=timeout)

    def remaining(self) -> float:
        """Seconds left before the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def check(self) -> None:
        """WaitTimeout once the deadline has passed."""
        if self.remaining() <= 0:
            raise WaitTimeout("the stream of events ran out of time")

    def opened(self) -> None:
        """The stream answered: from now on a dropped connection is reopened."""
        self.connected, self.failures = True, 0

    def line(self, line: str) -> EventView | None:
        """Read one line of the stream; the event it completes, remembered as the resume point."""
        event = self.decoder.feed(line)
        if event is not None:
            self.after = event.id
        return event

    def pause(self) -> float:
        """How long to wait before reopening a dropped stream (WaitTimeout if that passes the deadline)."""
        self.check()
        pause = RECONNECT_SECONDS[min(self.failures, len(RECONNECT_SECONDS) - 1)]
        self.failures += 1
        return min(pause, max(self.remaining(), 0.0))


@dataclass(frozen=True)
class Wait(Generic[T]):
    """A wait for something to end: how to read it, whether it has ended, which events to follow."""

    read: Call[T]
    ended: Callable[[T], bool]
    follow: Follow


def job_wait(job_id: Id, timeout: float | None) -> Wait[JobView]:
    """Wait for a job to end: follow its end events from its first one (a retried job's earlier
    end is read again and found not to be the end)."""
    follow = Follow.of(job_id=job_id, type=JOB_END_EVENTS, after=0, timeout=timeout)
    return Wait(get_job(job_id), lambda view: view.status in TERMINAL, follow)


def workflow_wait(workflow_id: Id, timeout: float | None) -> Wait[WorkflowView]:
    """Wait for a workflow to end."""
    follow = Follow.of(workflow_id=workflow_id, type=WORKFLOW_END_EVENTS, after=0, timeout=timeout)
    return Wait(get_workflow(workflow_id), lambda view: view.status in WORKFLOW_END, follow)
