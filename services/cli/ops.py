"""`conveyor stats`, `conveyor health`, `conveyor workers`: how the cluster is doing."""

from __future__ import annotations

from typing import Any, get_args

from schemas.stats import WINDOWS, GroupBy
from services.cli.common import Context, command


def add_commands(sub: Any) -> None:
    """The `stats`, `health` and `workers` commands."""
    stats = command(
        sub,
        "stats",
        cmd_stats,
        "what jobs did over a window, per queue, operation or tenant",
        "conveyor stats --window 24h --by operation",
    )
    stats.add_argument("--window", choices=list(WINDOWS), default="1h", help="how far back")
    stats.add_argument("--by", choices=list(get_args(GroupBy)), default="queue", help="one row per")
    stats.add_argument("--tenant", help="a tenant's (admin keys only, for another)")
    command(sub, "health", cmd_health, "the cluster's health; exit 0 ok, 1 degraded or down (admin)", "conveyor health")
    command(sub, "workers", cmd_workers, "live worker processes (admin)", "conveyor workers")


def percent(value: float | None) -> str | None:
    """A rate as a percentage."""
    return None if value is None else f"{value:.0%}"


def cmd_stats(ctx: Context) -> int:
    """Stats over a window."""
    a = ctx.args
    view = ctx.client.stats(window=a.window, group_by=a.by, tenant=a.tenant)
    if ctx.out.mode == "json":
        ctx.out.json(view)
        return 0
    rows = []
    for item in view.items:
        run = item.run_time_ms
        counts = (item.submitted, item.succeeded, item.failed, item.cancelled, item.retried)
        pace = (percent(item.success_rate), item.throughput_per_minute, run and run.p50, run and run.p95, item.backlog)
        rows.append((item.group, *counts, *pace))
    columns = [
        a.by,
        "submitted",
        "succeeded",
        "failed",
        "cancelled",
        "retried",
        "success",
        "jobs/min",
        "p50 ms",
        "p95 ms",
        "backlog",
    ]
    ctx.out.table(columns, rows, title=f"last {view.window}, per {view.group_by}")
    return 0


def cmd_health(ctx: Context) -> int:
    """The cluster's health."""
    report = ctx.client.health()
    if ctx.out.mode == "json":
        ctx.out.json(report)
        return 0 if report.status == "ok" else 1
    pairs: list[tuple[str, Any]] = [
        ("status", report.status),
        ("postgres", "ok" if report.postgres.ok else f"down: {report.postgres.error}"),
        ("rabbitmq", "ok" if report.rabbitmq.ok else f"down: {report.rabbitmq.error}"),
        (
            "scheduler",
            report.scheduler_leader and f"{report.scheduler_leader.id} since {report.scheduler_leader.since}",
        ),
    ]
    pairs += [("problem", problem) for problem in report.problems]
    ctx.out.fields(pairs)
    rows = [
        (name, q.workers, q.queued, q.oldest_queued_age_seconds, q.paused) for name, q in sorted(report.queues.items())
    ]
    ctx.out.table(["queue", "workers", "queued", "oldest queued s", "paused"], rows)
    return 0 if report.status == "ok" else 1


def cmd_workers(ctx: Context) -> int:
    """Live workers."""
    workers = ctx.client.list_workers()
    if ctx.out.mode == "json":
        ctx.out.json(workers)
        return 0
    rows = [
        (w.id, w.host, w.pid, w.queues, w.threads, w.started_at, w.last_seen, len(w.running_job_ids)) for w in workers
    ]
    ctx.out.table(["id", "host", "pid", "queues", "threads", "started", "last seen", "running"], rows)
    return 0
