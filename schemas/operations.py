"""Operating Conveyor: queue controls and why a job waits, queue and worker views, audit, health.

The rules here are pure: given the control rows (with running counts), which queues may start
jobs, why a queued job waits, and when a backlog is expected to drain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

#: The control row whose limits apply to all queues together.
GLOBAL = "*"

WaitingReason = Literal["queue_paused", "queue_limit", "global_limit"]


class QueueControl(msgspec.Struct, kw_only=True, frozen=True):
    """An operator's controls of one queue (or of all, `GLOBAL`), with its running jobs."""

    queue: str
    paused: bool = False
    max_concurrency: int | None = None
    max_backlog: int | None = None
    #: Jobs running now (known only where a limit makes it matter).
    running: int | None = None


class Controls:
    """A snapshot of every queue control."""

    def __init__(self, rows: Iterable[QueueControl] = ()) -> None:
        self.by_queue = {row.queue: row for row in rows}

    def get(self, queue: str) -> QueueControl:
        """The controls of a queue (defaults when it has none)."""
        return self.by_queue.get(queue) or QueueControl(queue=queue)

    def waiting_reason(self, queue: str, *, ended: Mapping[str, int] | None = None) -> WaitingReason | None:
        """Why a queued job of `queue` does not start now, or None if nothing holds it back.

        `ended` counts jobs per queue known to have stopped since the running counts were read.
        """
        ended = ended or {}
        own, every = self.get(queue), self.get(GLOBAL)
        if own.paused:
            return "queue_paused"
        if _at_limit(own, ended.get(queue, 0)):
            return "queue_limit"
        if _at_limit(every, sum(ended.values())):
            return "global_limit"
        return None

    def limited(self, queues: Iterable[str]) -> list[str]:
        """The queues among these that a concurrency limit applies to (the global one counts)."""
        if self.get(GLOBAL).max_concurrency is not None:
            return sorted(set(queues))
        return sorted({q for q in queues if self.get(q).max_concurrency is not None})

    def capacity(self, queue: str, threads: int) -> int:
        """How many jobs of `queue` can run at once, given worker threads consuming it."""
        caps = [threads]
        for control in (self.get(queue), self.get(GLOBAL)):
            if control.max_concurrency is not None:
                caps.append(control.max_concurrency)
        return min(caps)


def _at_limit(control: QueueControl, ended: int) -> bool:
    return control.max_concurrency is not None and (control.running or 0) - ended >= control.max_concurrency


def start_in_seconds(*, ahead: int, running: int, capacity: int, mean_run_seconds: float) -> float:
    """When a queued job is expected to start: the jobs ahead of it and those running must
    first free a slot, `capacity` at a time, each taking the mean run time."""
    must_finish = ahead + running - capacity + 1
    return max(0, must_finish) * mean_run_seconds / capacity


def drain_seconds(*, queued: int, running: int, capacity: int, mean_run_seconds: float) -> float:
    """When a queue's backlog and running jobs are expected to be done."""
    return math.ceil((queued + running) / capacity) * mean_run_seconds if queued + running else 0.0


class LimitsUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`PUT …/limits`: a field left out keeps its value, null removes the limit."""

    #: At most this many jobs run at once (over every worker process and host); null: no limit.
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | msgspec.UnsetType | None = msgspec.UNSET
    #: Submissions answer 429 once this many jobs are queued or scheduled; null: no limit.
    max_backlog: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)] | msgspec.UnsetType | None = msgspec.UNSET


class LimitsView(msgspec.Struct, kw_only=True):
    """The limits of a queue, or the global ones over all queues."""

    max_concurrency: int | None
    max_backlog: int | None
    updated_at: datetime | None = None
    updated_by: str | None = None


class QueueView(msgspec.Struct, kw_only=True):
    """One queue: RabbitMQ's counts, PostgreSQL's jobs, its controls and its pace."""

    name: str
    engine: str
    ready: int | None
    unacked: int | None
    consumers: int | None
    dead: int | None
    delayed: int | None
    queued: int
    running: int
    scheduled: int
    retrying: int
    paused: bool
    max_concurrency: int | None
    max_backlog: int | None
    throughput_per_minute: float
    success_rate: float | None
    eta_seconds: float | None
    workers: int
    #: Why the broker's counts are missing (the management API did not answer), else null.
    broker_error: str | None = None


class QueueList(msgspec.Struct):
    """Every queue."""

    items: list[QueueView]


class AuditEntry(msgspec.Struct, kw_only=True):
    """An operator's action: who (tenant and key), what, on what, when."""

    id: int
    at: datetime
    tenant: str
    key_id: str | None
    action: str
    target: str
    details: dict[str, Any]


class AuditPage(msgspec.Struct):
    """Audit entries, newest first."""

    items: list[AuditEntry]
    next_cursor: str | None


class WorkerView(msgspec.Struct, kw_only=True):
    """A live worker process."""

    id: str
    host: str
    pid: int
    queues: list[str]
    threads: int
    started_at: datetime
    last_seen: datetime
    running_job_ids: list[str]


class WorkerList(msgspec.Struct):
    """Every live worker process."""

    items: list[WorkerView]


class Check(msgspec.Struct, kw_only=True):
    """Whether a dependency answers, and how fast."""

    ok: bool
    round_trip_ms: float | None = None
    error: str | None = None


class LeaderView(msgspec.Struct, kw_only=True):
    """The scheduler that leads (fires schedules, relays the outbox, rescues jobs)."""

    id: str
    since: datetime | None


class QueueHealth(msgspec.Struct, kw_only=True):
    """A queue's workers and how long its oldest queued job has waited."""

    workers: int
    queued: int
    oldest_queued_age_seconds: float | None
    paused: bool


class HealthReport(msgspec.Struct, kw_only=True):
    """`ok`, `degraded` (jobs with nobody to run them, no scheduler leader) or `down`."""

    status: Literal["ok", "degraded", "down"]
    postgres: Check
    rabbitmq: Check
    scheduler_leader: LeaderView | None
    queues: dict[str, QueueHealth]
    problems: list[str]
