"""Operating Conveyor: queue figures from RabbitMQ and PostgreSQL together, why and until when a
job waits, and the health of the whole cluster. Shared by the API, the dashboard and the CLI."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
import httpx
from dramatiq.common import dq_name, xq_name

from infra import controls, dependencies, workers
from infra.rabbitmq_admin import ManagementUnavailable, QueueDepth, queue_depths
from infra.settings import Settings
from infra.sql import QUERIES
from schemas.engines import QUEUES
from schemas.jobs import JobEta, JobStatus, JobView
from schemas.operations import (
    Check,
    Controls,
    HealthReport,
    QueueHealth,
    QueueView,
    drain_seconds,
    start_in_seconds,
)


def engine_of(settings: Settings, name: str) -> str | None:
    """The engine of a queue named by its engine or by its RabbitMQ name; None if no queue."""
    for engine in QUEUES:
        if name in (engine, settings.queue_name(engine)):
            return engine
    return None


async def queue_views(
    pool: asyncpg.Pool, management: httpx.AsyncClient, settings: Settings, engines: Sequence[str] = QUEUES
) -> list[QueueView]:
    """The figures of these queues, as RabbitMQ and PostgreSQL have them now."""
    broker_error: str | None = None
    try:
        depths = await queue_depths(management, settings)
    except ManagementUnavailable as exc:
        depths, broker_error = {}, f"RabbitMQ management API: {exc}"
    figures = await controls.queue_figures(pool)
    state = await controls.control_state(pool)
    live = await workers.live_workers(pool, lease_seconds=settings.lease_seconds)
    threads, processes = workers.threads_per_queue(live), workers.processes_per_queue(live)
    views = []
    for engine in engines:
        name = settings.queue_name(engine)
        own = state.get(engine)
        pace = figures.pace(engine)
        queued, running = figures.count(engine, "queued"), figures.count(engine, "running")
        capacity = state.capacity(engine, threads.get(engine, 0))
        eta: float | None = None
        if queued + running == 0:
            eta = 0.0
        elif capacity > 0 and pace.mean_run_seconds is not None and not own.paused:
            eta = drain_seconds(
                queued=queued, running=running, capacity=capacity, mean_run_seconds=pace.mean_run_seconds
            )
        ended = pace.succeeded + pace.failed
        views.append(
            QueueView(
                name=name,
                engine=engine,
                ready=_depth(depths, name, broker_error, "ready"),
                unacked=_depth(depths, name, broker_error, "unacked"),
                consumers=_depth(depths, name, broker_error, "consumers"),
                dead=_total(depths, xq_name(name), broker_error),
                delayed=_total(depths, dq_name(name), broker_error),
                queued=queued,
                running=running,
                scheduled=figures.count(engine, "scheduled"),
                retrying=figures.count(engine, "retrying"),
                paused=own.paused,
                max_concurrency=own.max_concurrency,
                max_backlog=own.max_backlog,
                throughput_per_minute=round(pace.finished_5m / 5, 2),
                success_rate=None if ended == 0 else round(pace.succeeded / ended, 4),
                eta_seconds=None if eta is None else round(eta, 1),
                workers=processes.get(engine, 0),
                broker_error=broker_error,
            )
        )
    return views


def _depth(depths: dict[str, QueueDepth], name: str, error: str | None, field: str) -> int | None:
    if error is not None:
        return None
    depth = depths.get(name)
    return 0 if depth is None else int(getattr(depth, field))


def _total(depths: dict[str, QueueDepth], name: str, error: str | None) -> int | None:
    """Every message a queue holds, ready or not (a delay queue's are held by workers)."""
    if error is not None:
        return None
    depth = depths.get(name)
    return 0 if depth is None else depth.ready + depth.unacked


async def annotate_waiting(pool: asyncpg.Pool, settings: Settings, views: Sequence[JobView]) -> None:
    """Tell each queued job why it waits (waiting_reason) and until when (eta), and each job
    waiting for others which of them have not finished (waiting_on)."""
    dependents = [view for view in views if view.status is JobStatus.WAITING and view.depends_on]
    if dependents:
        unfinished = await dependencies.unfinished_dependencies(pool, [view.id for view in dependents])
        for view in dependents:
            view.waiting_reason, view.waiting_on = "dependencies", unfinished.get(view.id, [])
    queued = [view for view in views if view.status is JobStatus.QUEUED]
    if not queued:
        return
    state = await controls.control_state(pool)
    ahead = await controls.jobs_ahead(pool, [(v.id, v.engine) for v in queued])
    inputs = await controls.eta_inputs(pool, sorted({(v.engine, v.operation) for v in queued}))
    live = await workers.live_workers(pool, lease_seconds=settings.lease_seconds)
    threads = workers.threads_per_queue(live)
    now = datetime.now(UTC)
    for view in queued:
        view.waiting_reason = state.waiting_reason(view.engine)
        running, mean = inputs.get((view.engine, view.operation), (0, None))
        view.eta = _eta(state, view, ahead.get(view.id, 0), running, mean, threads.get(view.engine, 0), now)


def _eta(
    state: Controls, view: JobView, ahead: int, running: int, mean: float | None, threads: int, now: datetime
) -> JobEta:
    capacity = state.capacity(view.engine, threads)
    if mean is None or capacity <= 0 or state.get(view.engine).paused:
        return JobEta(position=ahead + 1, estimated_start_at=None, estimated_finish_at=None)
    start = now + timedelta(
        seconds=start_in_seconds(ahead=ahead, running=running, capacity=capacity, mean_run_seconds=mean)
    )
    return JobEta(position=ahead + 1, estimated_start_at=start, estimated_finish_at=start + timedelta(seconds=mean))


async def _timed(probe: object) -> Check:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe, 2.0)  # type: ignore[arg-type]
    except Exception as exc:
        return Check(ok=False, error=f"{type(exc).__name__}: {exc}"[:200])
    return Check(ok=True, round_trip_ms=round((time.perf_counter() - started) * 1000, 2))


async def health(
    pool: asyncpg.Pool, management: httpx.AsyncClient, settings: Settings, *, amqp_connected: bool
) -> HealthReport:
    """Reachability of PostgreSQL and RabbitMQ, the scheduler leader, and each queue's workers.

    `down`: PostgreSQL does not answer, or the gateway has no connection to RabbitMQ.
    `degraded`: jobs wait with no worker for their queue, no scheduler leads, or RabbitMQ's
    management API does not answer.
    """
    postgres = await _timed(pool.fetchval(QUERIES.ping))
    rabbitmq = await _timed(queue_depths(management, settings))
    down = [
        name
        for name, ok in (("postgres: unreachable", postgres.ok), ("rabbitmq: not connected", amqp_connected))
        if not ok
    ]
    if not postgres.ok:
        return HealthReport(
            status="down", postgres=postgres, rabbitmq=rabbitmq, scheduler_leader=None, queues={}, problems=down
        )
    leader = await workers.scheduler_leader(pool)
    live = await workers.live_workers(pool, lease_seconds=settings.lease_seconds)
    processes = workers.processes_per_queue(live)
    ages = await controls.oldest_queued(pool)
    figures = await controls.queue_figures(pool, with_pace=False)
    state = await controls.control_state(pool)
    problems = down + ([] if rabbitmq.ok else ["rabbitmq: management API unreachable"])
    if leader is None:
        problems.append("scheduler: no leader (schedules, delayed jobs and the outbox relay wait)")
    queues = {}
    for engine in QUEUES:
        queued = figures.count(engine, "queued")
        paused = state.get(engine).paused
        queues[engine] = QueueHealth(
            workers=processes.get(engine, 0),
            queued=queued,
            oldest_queued_age_seconds=None if engine not in ages else round(ages[engine], 3),
            paused=paused,
        )
        if queued and not processes.get(engine) and not paused:
            problems.append(f"queue {engine}: {queued} queued jobs and no worker")
    status: Literal["ok", "degraded", "down"] = "down" if down else "degraded" if problems else "ok"
    return HealthReport(
        status=status, postgres=postgres, rabbitmq=rabbitmq, scheduler_leader=leader, queues=queues, problems=problems
    )
