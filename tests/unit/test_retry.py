"""Retry arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.retry import RETRY_AFTER_CAP, backoff_delay, parse_retry_after, scheduled_delay, should_retry


def test_should_retry_allows_max_retries_more_attempts() -> None:
    assert [should_retry(n, 3) for n in (1, 2, 3, 4)] == [True, True, True, False]
    assert not should_retry(1, 0)


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (10, 60.0)])
def test_backoff_grows_exponentially_up_to_the_cap(attempt: int, ceiling: float) -> None:
    # Given base 2 s and cap 60 s, When the jitter is at its extremes, Then the delay spans the upper half
    assert backoff_delay(attempt, 2.0, 60.0, rand=lambda: 0.0) == pytest.approx(ceiling / 2)
    assert backoff_delay(attempt, 2.0, 60.0, rand=lambda: 1.0) == pytest.approx(ceiling)


def test_backoff_jitter_spreads_delays() -> None:
    delays = {round(backoff_delay(3, 1.0, 100.0), 6) for _ in range(50)}
    assert len(delays) > 10
    assert all(2.0 <= d <= 4.0 for d in delays)


def test_backoff_zero_base_means_no_wait_and_huge_attempts_do_not_overflow() -> None:
    assert backoff_delay(5, 0.0, 10.0) == 0.0
    assert backoff_delay(10_000, 1.0, 30.0, rand=lambda: 1.0) == 30.0


SCHEDULE = (5.0, 300.0, 1800.0)


def test_schedule_gives_each_try_its_delay_jittered_by_a_tenth() -> None:
    assert scheduled_delay(1, SCHEDULE, rand=lambda: 0.5) == pytest.approx(5.0)
    assert scheduled_delay(2, SCHEDULE, rand=lambda: 0.0) == pytest.approx(270.0)
    assert scheduled_delay(3, SCHEDULE, rand=lambda: 1.0) == pytest.approx(1980.0)


def test_schedule_ends_after_its_last_delay() -> None:
    assert scheduled_delay(4, SCHEDULE) is None
    assert scheduled_delay(1, ()) is None


def test_retry_after_stretches_a_delay_but_never_shortens_it() -> None:
    assert scheduled_delay(1, SCHEDULE, retry_after=60, rand=lambda: 0.5) == pytest.approx(60.0)
    assert scheduled_delay(2, SCHEDULE, retry_after=1, rand=lambda: 0.5) == pytest.approx(300.0)
    assert scheduled_delay(1, SCHEDULE, retry_after=10**9, rand=lambda: 0.5) == RETRY_AFTER_CAP


NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), (" 7 ", 7.0), ("Sun, 01 Mar 2026 12:02:00 GMT", 120.0), ("Sun, 01 Mar 2026 11:00:00 GMT", 0.0),
     (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None)],
)  # fmt: skip
def test_retry_after_reads_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds
