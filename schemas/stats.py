"""Stats: the latency histogram and its percentiles, windows and steps, and the stats wire contract.

Latencies are counted in fixed log-scale buckets (migration 0005 holds the same rule): bucket 0
counts durations under 1 ms, bucket k (1 … BUCKETS-1) those in [2^((k-1)/4), 2^(k/4)) ms, and
the last one everything longer. Histograms add bucket by bucket, so any set of rollup rows
merges exactly; a percentile is then read as the geometric middle of the bucket holding it,
which is within PERCENTILE_ERROR of the true value (0.5 ms for values under 1 ms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

#: Buckets per doubling of the duration.
PER_DOUBLING = 4
BUCKETS = 112
#: Largest relative error of a percentile read from a histogram: half a bucket, geometrically.
PERCENTILE_ERROR = 2 ** (1 / (2 * PER_DOUBLING)) - 1

Window = Literal["5m", "1h", "24h", "7d"]
Step = Literal["1m", "5m", "1h", "1d"]
GroupBy = Literal["queue", "operation", "tenant"]
Span = Literal["minute", "five_minutes", "hour", "day"]

WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
STEPS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
#: The rollup rows' spans, longest first; each divides the next longer one.
SPANS: dict[Span, timedelta] = {
    "day": timedelta(days=1),
    "hour": timedelta(hours=1),
    "five_minutes": timedelta(minutes=5),
    "minute": timedelta(minutes=1),
}
#: The rollup rows a timeseries step is read from.
STEP_SPAN: dict[str, Span] = {"1m": "minute", "5m": "five_minutes", "1h": "hour", "1d": "day"}
MAX_BUCKETS = 1000
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# -- histograms ------------------------------------------------------------------------------


def bucket_of(ms: float) -> int:
    """The bucket counting a duration in milliseconds."""
    if ms < 1:
        return 0
    return min(BUCKETS - 1, math.floor(PER_DOUBLING * math.log(ms) / math.log(2)) + 1)


def bucket_bounds(k: int) -> tuple[float, float]:
    """The durations (ms) bucket k counts: [low, high); the last bucket is open-ended."""
    if k == 0:
        return 0.0, 1.0
    high = math.inf if k == BUCKETS - 1 else 2 ** (k / PER_DOUBLING)
    return 2 ** ((k - 1) / PER_DOUBLING), high


def bucket_value(k: int) -> float:
    """The duration (ms) a bucket stands for: its geometric middle (0.5 ms for bucket 0, the
    lower bound for the open-ended last one)."""
    low, high = bucket_bounds(k)
    if k == 0:
        return 0.5
    return low if math.isinf(high) else math.sqrt(low * high)


def histogram(durations_ms: Sequence[float]) -> list[int]:
    """The histogram of some durations."""
    counts = [0] * BUCKETS
    for ms in durations_ms:
        counts[bucket_of(ms)] += 1
    return counts


def merge(*histograms: Sequence[int] | None) -> list[int]:
    """Histograms added bucket by bucket (None counts as empty)."""
    total = [0] * BUCKETS
    for h in histograms:
        if h is not None:
            for k, n in enumerate(h):
                total[k] += n
    return total


def percentile(hist: Sequence[int] | None, q: float) -> float | None:
    """The q-quantile (0 < q ≤ 1) of the durations a histogram counts, in ms; None when empty.

    The value of rank ceil(q·n) (nearest rank), read as the middle of its bucket.
    """
    if hist is None:
        return None
    n = sum(hist)
    if n == 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for k, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return bucket_value(k)
    raise AssertionError("unreachable: rank ≤ n")


class Percentiles(msgspec.Struct):
    """Percentiles of a duration, in milliseconds."""

    p50: float
    p95: float
    p99: float


def percentiles(hist: Sequence[int] | None) -> Percentiles | None:
    """p50, p95 and p99 of a histogram, rounded to 0.01 ms; None when it counts nothing."""
    p50, p95, p99 = (percentile(hist, q) for q in (0.5, 0.95, 0.99))
    if p50 is None or p95 is None or p99 is None:
        return None
    return Percentiles(p50=round(p50, 2), p95=round(p95, 2), p99=round(p99, 2))


#: Prometheus `le` bounds of the run and wait histograms: every doubling from 1 ms, which are
#: bucket edges, so the cumulative counts are exact.
PROMETHEUS_DOUBLINGS = 27


def cumulative_seconds(hist: Sequence[int]) -> list[tuple[float, int]]:
    """A histogram as Prometheus buckets: (upper bound in seconds, count at or below it), from
    1 ms up by doublings, then +Inf with the total."""
    out = []
    seen = 0
    k = 0
    for j in range(PROMETHEUS_DOUBLINGS + 1):
        while k <= PER_DOUBLING * j:  # buckets 0 … 4j lie under 2^j ms
            seen += hist[k]
            k += 1
        out.append((2**j / 1000, seen))
    out.append((math.inf, sum(hist)))
    return out


def success_rate(succeeded: int, failed: int) -> float | None:
    """succeeded / (succeeded + failed), or None when neither happened."""
    done = succeeded + failed
    return None if done == 0 else succeeded / done


# -- windows and steps -------------------------------------------------------------------------


def floor_time(at: datetime, unit: timedelta) -> datetime:
    """`at` rounded down to a multiple of `unit` (UTC, counted from 2000-01-01)."""
    return at - (at - EPOCH) % unit


def window_start(now: datetime, window: str) -> datetime:
    """Where a window starts: `window` before now, rounded down to the minute (5m, 1h) or to
    the hour (24h, 7d), so that it is made of whole rollup rows."""
    unit = SPANS["minute"] if WINDOWS[window] <= timedelta(hours=1) else SPANS["hour"]
    return floor_time(now - WINDOWS[window], unit)


def window_buckets(now: datetime, window: str) -> list[tuple[Span, datetime]]:
    """The rollup rows (span, bucket start) that together cover [window_start, now] exactly:
    from the start, the longest span each position is aligned to (rows are kept current, so
    the last one may be the bucket still filling)."""
    at = window_start(now, window)
    rows: list[tuple[Span, datetime]] = []
    while at <= now:
        span = next(s for s in SPANS if floor_time(at, SPANS[s]) == at)
        rows.append((span, at))
        at += SPANS[span]
    return rows


def step_error(window: str, step: str) -> str | None:
    """Why a step does not fit a window (None if it does): it must not exceed the window, nor
    cut it into more than MAX_BUCKETS buckets."""
    count = WINDOWS[window] / STEPS[step]
    if count < 1:
        return f"step {step} is longer than the window {window}"
    if count > MAX_BUCKETS:
        return f"step {step} cuts the window {window} into {count:.0f} buckets, more than {MAX_BUCKETS}"
    return None


def step_starts(now: datetime, window: str, step: str) -> list[datetime]:
    """The starts of a timeseries' buckets: window/step of them, the last one holding now."""
    unit = STEPS[step]
    last = floor_time(now, unit)
    count = round(WINDOWS[window] / unit)
    return [last - unit * i for i in range(count - 1, -1, -1)]


# -- the API -----------------------------------------------------------------------------------


class StatsItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What one group (a queue, an operation of a queue, or a tenant) did in the window."""

    group: str
    queue: str | None = None
    operation: str | None = None
    tenant: str | None = None
    submitted: int
    started: int
    succeeded: int
    failed: int
    cancelled: int
    retried: int
    success_rate: float | None
    throughput_per_minute: float
    run_time_ms: Percentiles | None
    wait_time_ms: Percentiles | None
    #: Jobs of the group queued, scheduled or retrying now.
    backlog: int
    #: Tokens of the generative jobs that succeeded in the window (their results' `usage`).
    prompt_tokens: int
    completion_tokens: int
    #: What they cost, in US dollars (their results' `cost`; unpriced ones count nothing).
    cost: float


class StatsView(msgspec.Struct, kw_only=True):
    """GET /v1/stats."""

    window: Window
    group_by: GroupBy
    start: datetime
    end: datetime
    items: list[StatsItem]


class StatsBucket(msgspec.Struct, kw_only=True):
    """What happened in one step of a timeseries."""

    start: datetime
    submitted: int = 0
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    retried: int = 0
    run_time_p95_ms: float | None = None


class TimeseriesView(msgspec.Struct, kw_only=True):
    """GET /v1/stats/timeseries."""

    window: Window
    step: Step
    queue: str | None
    operation: str | None
    buckets: list[StatsBucket]
