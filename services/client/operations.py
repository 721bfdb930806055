"""The calls of operators: queues and limits, dead letters, stats, health, workers, engines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from schemas.dead_letters import (
    DeadLetterFilter,
    DeadLetterPage,
    DeadLetterPurgeView,
    DeadLetterReplay,
    DeadLetterReplayView,
    DeadLetterSelect,
)
from schemas.engines import EngineList
from schemas.operations import HealthReport, LimitsUpdate, LimitsView, QueueList, QueueView, WorkerList, WorkerView
from schemas.stats import StatsView, TimeseriesView
from services.client.calls import Call, call, then
from services.client.jobs import Id

#: A limit not given to set_queue_limits keeps its value; None removes it.
KEEP: Any = msgspec.UNSET


def list_queues() -> Call[list[QueueView]]:
    """Every queue: messages and consumers (RabbitMQ), jobs, controls and pace (PostgreSQL). Admin."""
    return then(call("GET", "/v1/queues", QueueList), lambda page: page.items)


def get_queue(name: str) -> Call[QueueView]:
    """One queue's figures. Admin."""
    return call("GET", f"/v1/queues/{name}", QueueView)


def pause_queue(name: str) -> Call[QueueView]:
    """Pause a queue: no job of it starts (within 2 s, on every worker); running ones finish. Admin."""
    return call("POST", f"/v1/queues/{name}/pause", QueueView)


def resume_queue(name: str) -> Call[QueueView]:
    """Resume a paused queue. Admin."""
    return call("POST", f"/v1/queues/{name}/resume", QueueView)


def set_queue_limits(
    name: str, *, max_concurrency: int | None = KEEP, max_backlog: int | None = KEEP
) -> Call[LimitsView]:
    """Set a queue's limits: a limit left out keeps its value, None removes it. Admin."""
    body = LimitsUpdate(max_concurrency=max_concurrency, max_backlog=max_backlog)
    return call("PUT", f"/v1/queues/{name}/limits", LimitsView, body=body)


def set_global_limits(*, max_concurrency: int | None = KEEP, max_backlog: int | None = KEEP) -> Call[LimitsView]:
    """Set the limits over all queues together. Admin."""
    body = LimitsUpdate(max_concurrency=max_concurrency, max_backlog=max_backlog)
    return call("PUT", "/v1/limits", LimitsView, body=body)


def global_limits() -> Call[LimitsView]:
    """The limits over all queues together. Admin."""
    return call("GET", "/v1/limits", LimitsView)


def list_dead_letters(
    *,
    queue: str | None = None,
    operation: str | None = None,
    category: str | None = None,
    tag: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[DeadLetterPage]:
    """A page of dead letters (jobs failed for good), newest failure first."""
    filters = {"queue": queue, "operation": operation, "category": category, "tag": tag, "since": since}
    return call("GET", "/v1/dead-letters", DeadLetterPage, query={**filters, "limit": limit, "cursor": cursor})


def replay_dead_letters(
    *, ids: Sequence[Id] | None = None, filter: DeadLetterFilter | None = None, max_per_second: float | None = None
) -> Call[DeadLetterReplayView]:
    """Run dead letters again, by ids or by a filter, optionally paced."""
    given = None if ids is None else [str(i) for i in ids]
    body = msgspec.convert({"ids": given, "filter": filter, "max_per_second": max_per_second}, DeadLetterReplay)
    return call("POST", "/v1/dead-letters/replay", DeadLetterReplayView, body=body)


def purge_dead_letters(
    *, ids: Sequence[Id] | None = None, filter: DeadLetterFilter | None = None
) -> Call[DeadLetterPurgeView]:
    """Take dead letters off the list (the jobs stay failed), by ids or by a filter."""
    body = msgspec.convert({"ids": None if ids is None else [str(i) for i in ids], "filter": filter}, DeadLetterSelect)
    return call("POST", "/v1/dead-letters/purge", DeadLetterPurgeView, body=body)


def stats(*, window: str = "1h", group_by: str = "queue", tenant: str | None = None) -> Call[StatsView]:
    """What jobs did over a window (5m, 1h, 24h, 7d) per queue, operation or tenant."""
    return call("GET", "/v1/stats", StatsView, query={"window": window, "group_by": group_by, "tenant": tenant})


def timeseries(
    *, window: str = "1h", step: str = "1m", queue: str | None = None, operation: str | None = None
) -> Call[TimeseriesView]:
    """Counts per step over a window, oldest first."""
    query = {"window": window, "step": step, "queue": queue, "operation": operation}
    return call("GET", "/v1/stats/timeseries", TimeseriesView, query=query)


def health() -> Call[HealthReport]:
    """Cluster health: ok, degraded or down (a 503 answer is still the report). Admin."""
    return call("GET", "/v1/health", HealthReport, accept=frozenset({503}))


def list_workers() -> Call[list[WorkerView]]:
    """Live worker processes. Admin."""
    return then(call("GET", "/v1/workers", WorkerList), lambda page: page.items)


def engines() -> Call[EngineList]:
    """Every engine, its queue and its operations with their JSON Schemas."""
    return call("GET", "/v1/engines", EngineList)
