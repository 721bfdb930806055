"""Retry arithmetic: when a failed attempt runs again."""

from __future__ import annotations

import random
from collections.abc import Callable


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
