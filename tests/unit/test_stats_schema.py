"""The latency histogram, its percentiles, and how windows and steps are cut into rollup rows."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas.stats import (
    BUCKETS,
    PERCENTILE_ERROR,
    bucket_bounds,
    bucket_of,
    cumulative_seconds,
    histogram,
    merge,
    percentile,
    percentiles,
    step_error,
    step_starts,
    success_rate,
    window_buckets,
    window_start,
)

NOW = datetime(2026, 12, 1, 21, 37, 42, tzinfo=UTC)


def test_bucket_of_puts_each_duration_within_its_bucket_bounds() -> None:
    for ms in [0.0, 0.3, 1.0, 1.19, 1.2, 2.0, 199.9, 200.0, 3_600_000.0, 1e7]:
        low, high = bucket_bounds(bucket_of(ms))
        assert low <= ms < high, ms


def test_bucket_of_sends_what_is_too_long_to_the_last_bucket() -> None:
    assert bucket_of(1e15) == BUCKETS - 1
    assert bucket_bounds(BUCKETS - 1)[1] == float("inf")


def test_percentile_is_within_the_documented_error_of_the_true_value() -> None:
    # Given durations spread over six orders of magnitude
    rng = random.Random(7)
    values = sorted(10 ** rng.uniform(0, 6) for _ in range(5000))
    hist = histogram(values)
    for q in (0.5, 0.95, 0.99):
        # When a percentile is read from the histogram
        estimate = percentile(hist, q)
        # Then it is within the error bound of the nearest-rank value
        true = values[int(q * len(values)) - 1]
        assert estimate is not None
        assert abs(estimate - true) / true <= PERCENTILE_ERROR + 1e-9, (q, estimate, true)


def test_percentile_of_an_empty_histogram_is_none() -> None:
    assert percentile([0] * BUCKETS, 0.5) is None
    assert percentile(None, 0.5) is None
    assert percentiles(None) is None


def test_percentiles_of_sleeps_of_200_ms_read_200_ms() -> None:
    p = percentiles(histogram([200.0] * 99 + [5000.0]))
    assert p is not None
    assert p.p50 == p.p95 == pytest.approx(200, rel=PERCENTILE_ERROR)
    assert p.p99 == pytest.approx(200, rel=PERCENTILE_ERROR)
    assert percentile(histogram([200.0] * 99 + [5000.0]), 1.0) == pytest.approx(5000, rel=PERCENTILE_ERROR)


def test_merging_histograms_equals_the_histogram_of_all_values() -> None:
    a, b = [1.0, 5.0, 300.0], [0.2, 5.5, 10_000.0]
    assert merge(histogram(a), histogram(b), None) == histogram(a + b)


def test_success_rate_counts_succeeded_over_succeeded_and_failed() -> None:
    assert success_rate(3, 1) == 0.75
    assert success_rate(0, 0) is None


@pytest.mark.parametrize("window", ["5m", "1h", "24h", "7d"])
def test_window_buckets_cover_the_window_without_gap_or_overlap(window: str) -> None:
    # When a window is cut into rollup rows
    rows = window_buckets(NOW, window)
    spans = {"minute": timedelta(minutes=1), "five_minutes": timedelta(minutes=5), "hour": timedelta(hours=1)}
    spans["day"] = timedelta(days=1)
    # Then they start where the window starts, follow each other and reach now
    assert rows[0][1] == window_start(NOW, window)
    for (span, start), (_, following) in itertools.pairwise(rows):
        assert start + spans[span] == following
    last_span, last_start = rows[-1]
    assert last_start <= NOW < last_start + spans[last_span]


def test_window_buckets_use_few_rows_for_long_windows() -> None:
    assert len(window_buckets(NOW, "7d")) <= 24 + 8
    assert len(window_buckets(NOW, "1h")) <= 4 + 11 + 1
    assert window_start(NOW, "24h") == datetime(2026, 11, 30, 21, tzinfo=UTC)
    assert window_start(NOW, "5m") == datetime(2026, 12, 1, 21, 32, tzinfo=UTC)


def test_step_must_fit_the_window_in_at_most_1000_buckets() -> None:
    assert step_error("1h", "1m") is None and step_error("7d", "1h") is None
    assert step_error("24h", "1m") is not None  # 1,440 buckets
    assert step_error("5m", "1h") is not None  # longer than the window


def test_step_starts_end_with_the_bucket_holding_now() -> None:
    starts = step_starts(NOW, "1h", "5m")
    assert len(starts) == 12
    assert starts[-1] == datetime(2026, 12, 1, 21, 35, tzinfo=UTC)
    assert starts[0] == datetime(2026, 12, 1, 20, 40, tzinfo=UTC)


def test_cumulative_seconds_gives_exact_prometheus_buckets_at_doublings_of_a_millisecond() -> None:
    buckets = dict(cumulative_seconds(histogram([0.5, 1.5, 3.0, 1000.0, 1e12])))
    assert (buckets[0.001], buckets[0.002], buckets[0.004]) == (1, 2, 3)
    assert buckets[0.512] == 3 and buckets[1.024] == 4
    assert buckets[2**27 / 1000] == 4 and buckets[float("inf")] == 5
