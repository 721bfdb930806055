"""Stats repository: rollups of what jobs did, read per window, per timeseries step, and as
cluster-wide totals for metrics.

The jobs triggers of migration 0005 append changes to job_stats_pending; `flush` (the
scheduler leader, every second) folds them into the rollups and totals. Every read adds the
pending changes not yet folded, in the same statement, so it is exact whether or not a
flush ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.stats import (
    STEP_SPAN,
    STEPS,
    StatsBucket,
    StatsItem,
    percentile,
    percentiles,
    step_starts,
    success_rate,
    window_buckets,
    window_start,
)


class JobTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Cumulative counts and current gauges of one engine's operation, all tenants together."""

    engine: str
    operation: str
    submitted: int
    started: int
    succeeded: int
    failed: int
    cancelled: int
    retried: int
    scheduled: int
    waiting: int
    queued: int
    running: int
    retrying: int


class LatencyTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Cumulative run and wait time histograms of one engine (sums in ms)."""

    engine: str
    run_hist: list[int]
    run_ms: float
    wait_hist: list[int]
    wait_ms: float


GroupKey = tuple[str | None, str | None, str | None]


COUNTS = ("submitted", "started", "succeeded", "failed", "cancelled", "retried")


async def window_stats(db: Db, now: datetime, window: str, group_by: str, tenant: str | None) -> list[StatsItem]:
    """What each group did in a window ending now, with its current backlog."""
    buckets = window_buckets(now, window)
    spans, starts = [s for s, _ in buckets], [b for _, b in buckets]
    rows = await db.fetch(QUERIES.stats_window, spans, starts, tenant, group_by, starts[0])
    backlog: dict[GroupKey, int] = {
        (r["engine"], r["operation"], r["tenant"]): r["backlog"]
        for r in await db.fetch(QUERIES.stats_backlog, tenant, group_by)
    }
    minutes = (now - window_start(now, window)) / timedelta(minutes=1)
    items: dict[GroupKey, StatsItem] = {}
    for row in rows:
        key = (row["engine"], row["operation"], row["tenant"])
        items[key] = _item(key, row, minutes, backlog.get(key, 0))
    for key, count in backlog.items():
        if key not in items:
            items[key] = _item(key, None, minutes, count)
    return sorted(items.values(), key=lambda item: item.group)


def _item(key: GroupKey, row: Mapping[str, Any] | None, minutes: float, backlog: int) -> StatsItem:
    """One group's figures from its summed rollup row (None: nothing happened in the window)."""
    engine, operation, tenant = key
    if tenant is not None:
        group = tenant
    elif operation is not None:
        group = f"{engine}.{operation}"
    else:
        group = engine or ""
    counts = {name: 0 if row is None else int(row[name]) for name in COUNTS}
    finished = counts["succeeded"] + counts["failed"] + counts["cancelled"]
    return StatsItem(
        group=group,
        queue=engine,
        operation=operation,
        tenant=tenant,
        submitted=counts["submitted"],
        started=counts["started"],
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        cancelled=counts["cancelled"],
        retried=counts["retried"],
        success_rate=success_rate(counts["succeeded"], counts["failed"]),
        throughput_per_minute=round(finished / minutes, 3),
        run_time_ms=None if row is None else percentiles(row["run_hist"]),
        wait_time_ms=None if row is None else percentiles(row["wait_hist"]),
        backlog=backlog,
        prompt_tokens=0 if row is None else int(row["prompt_tokens"] or 0),
        completion_tokens=0 if row is None else int(row["completion_tokens"] or 0),
        cost=0.0 if row is None else round(float(row["cost"] or 0), 8),
    )


async def timeseries(
    db: Db,
    now: datetime,
    window: str,
    step: str,
    *,
    tenant: str | None,
    engine: str | None,
    operation: str | None,
) -> list[StatsBucket]:
    """Counts and p95 run time per step over a window ending now; empty steps with zeros."""
    starts = step_starts(now, window, step)
    unit = STEPS[step]
    rows = await db.fetch(
        QUERIES.stats_timeseries,
        STEP_SPAN[step],
        starts[0],
        starts[-1] + unit,
        unit.total_seconds(),
        tenant,
        engine,
        operation,
    )
    found = {row["start"]: row for row in rows}
    buckets = []
    for start in starts:
        row = found.get(start)
        if row is None:
            buckets.append(StatsBucket(start=start))
            continue
        p95 = percentile(row["run_hist"], 0.95)
        buckets.append(
            StatsBucket(
                start=start,
                submitted=row["submitted"],
                started=row["started"],
                succeeded=row["succeeded"],
                failed=row["failed"],
                cancelled=row["cancelled"],
                retried=row["retried"],
                run_time_p95_ms=None if p95 is None else round(p95, 2),
            )
        )
    return buckets


async def job_totals(db: Db) -> list[JobTotals]:
    """Cumulative counts and current gauges per engine and operation."""
    return [msgspec.convert(dict(row), JobTotals) for row in await db.fetch(QUERIES.metrics_jobs)]


async def latency_totals(db: Db) -> list[LatencyTotals]:
    """Cumulative run and wait time histograms per engine."""
    return [msgspec.convert(dict(row), LatencyTotals) for row in await db.fetch(QUERIES.metrics_latency)]


async def flush(db: Db, *, limit: int) -> int:
    """Fold up to `limit` pending changes into the rollups and totals; how many were folded."""
    folded: int = await db.fetchval(QUERIES.flush_stats, limit)
    return folded


async def prune_batch(db: Db, *, older_than_days: int, limit: int) -> int:
    """Delete up to `limit` rollup rows older than `older_than_days`; how many went."""
    deleted: int = await db.fetchval(QUERIES.prune_stats, older_than_days, limit)
    return deleted
