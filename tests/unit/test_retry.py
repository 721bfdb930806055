"""Retry arithmetic."""

from __future__ import annotations

import pytest

from schemas.retry import backoff_delay, should_retry


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
