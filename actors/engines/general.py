"""The `general` engine's diagnostic operations: echo, sleep, block, flaky (contracts in
schemas/contracts/general.py)."""

from __future__ import annotations

import time

from actors.sdk import JobContext, PermanentError, TransientError, operation
from schemas.contracts.general import (
    BLOCK,
    ECHO,
    FLAKY,
    SLEEP,
    EchoParams,
    EchoResult,
    FlakyParams,
    FlakyResult,
    SleepParams,
    SleepResult,
)

#: Longest stretch between two progress reports of `sleep`.
SLEEP_STEP = 0.25


@operation(ECHO)
def echo(ctx: JobContext, p: EchoParams) -> EchoResult:
    """Return the value given."""
    return EchoResult(value=p.value)


@operation(SLEEP)
def sleep(ctx: JobContext, p: SleepParams) -> SleepResult:
    """Sleep for a number of seconds, reporting progress and stopping at once when cancelled."""
    slept = 0.0
    ctx.progress(0.0, f"slept 0.0 s of {p.seconds:g} s")
    while slept < p.seconds:
        step = min(SLEEP_STEP, p.seconds - slept)
        ctx.sleep(step)
        slept += step
        ctx.progress(slept / p.seconds, f"slept {slept:.1f} s of {p.seconds:g} s")
    return SleepResult(slept=p.seconds)


@operation(BLOCK)
def block(ctx: JobContext, p: SleepParams) -> SleepResult:
    """Sleep in one blocking call that no cancellation or time limit can cut short."""
    time.sleep(p.seconds)
    return SleepResult(slept=p.seconds)


@operation(FLAKY)
def flaky(ctx: JobContext, p: FlakyParams) -> FlakyResult:
    """Fail the first `fail_times` attempts (transiently, or permanently), then succeed."""
    if ctx.attempt <= p.fail_times:
        if p.permanent:
            raise PermanentError(f"attempt {ctx.attempt} fails permanently, as asked")
        raise TransientError(f"attempt {ctx.attempt} of {p.fail_times} failing ones")
    return FlakyResult(attempts=ctx.attempt)
