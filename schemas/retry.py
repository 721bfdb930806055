"""Retry arithmetic: when a failed attempt runs again (a job's backoff, a delivery's schedule)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def should_retry(attempts: int, max_retries: int) -> bool:
    """Whether a job whose attempt number `attempts` failed transiently gets another attempt."""
    return attempts <= max_retries


def backoff_delay(attempts: int, base: float, cap: float, *, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempts` (1-based).

    Exponential in the attempt (base, 2·base, 4·base, …), capped at `cap`, with "equal
    jitter": a uniformly random point in the upper half of that ceiling, so that retries of
    jobs that failed together spread out but never come sooner than half the ceiling.
    """
    if base <= 0 or cap <= 0:
        return 0.0
    ceiling = min(cap, base * 2.0 ** min(max(attempts - 1, 0), 62))
    return ceiling / 2 + rand() * ceiling / 2


#: A receiver's Retry-After is honoured up to this many seconds (a day), so that no receiver
#: can park a delivery for longer.
RETRY_AFTER_CAP = 86_400.0
#: Scheduled delays are spread by up to this fraction either way.
SCHEDULE_JITTER = 0.1


def scheduled_delay(
    tries: int,
    schedule: Sequence[float],
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait after failed try number `tries` (1-based) of a delivery, or None when the
    schedule is exhausted.

    The schedule's delay for that try, jittered by ±10 %; a receiver's `retry_after` (seconds)
    stretches it, never shortens it, and counts up to RETRY_AFTER_CAP.
    """
    if tries < 1 or tries > len(schedule):
        return None
    delay = schedule[tries - 1] * (1 - SCHEDULE_JITTER + 2 * SCHEDULE_JITTER * rand())
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """The seconds a Retry-After header asks for (delay-seconds or an HTTP date), or None when
    it is absent or malformed; a date in the past is 0."""
    if value is None or not (value := value.strip()):
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
