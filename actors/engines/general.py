"""Diagnostic operations of the `general` engine: echo, sleep, block, flaky."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from actors.sdk import JobContext, PermanentError, TransientError, operation


class EchoParams(msgspec.Struct, forbid_unknown_fields=True):
    value: Any


class EchoResult(msgspec.Struct):
    value: Any


@operation("general", "echo", params=EchoParams, result=EchoResult)
def echo(ctx: JobContext, p: EchoParams) -> EchoResult:
    """Return the value given."""
    return EchoResult(value=p.value)


class SleepParams(msgspec.Struct, forbid_unknown_fields=True):
    seconds: Annotated[float, Meta(ge=0, le=86_400)]


class SleepResult(msgspec.Struct):
    slept: float


#: Longest stretch between two progress reports of `sleep`.
SLEEP_STEP = 0.25


@operation("general", "sleep", params=SleepParams, result=SleepResult)
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


@operation("general", "block", params=SleepParams, result=SleepResult, diagnostic=True)
def block(ctx: JobContext, p: SleepParams) -> SleepResult:
    """Sleep in one blocking call that no cancellation or time limit can cut short, as a job
    stuck in native code does (how a stopping worker copes with a thread it cannot interrupt).
    Offered only with CONVEYOR_DIAGNOSTICS=1."""
    time.sleep(p.seconds)
    return SleepResult(slept=p.seconds)


class FlakyParams(msgspec.Struct, forbid_unknown_fields=True):
    fail_times: Annotated[int, Meta(ge=0, le=1_000)] = 1
    permanent: bool = False


class FlakyResult(msgspec.Struct):
    attempts: int


@operation("general", "flaky", params=FlakyParams, result=FlakyResult)
def flaky(ctx: JobContext, p: FlakyParams) -> FlakyResult:
    """Fail the first `fail_times` attempts (transiently, or permanently), then succeed."""
    if ctx.attempt <= p.fail_times:
        if p.permanent:
            raise PermanentError(f"attempt {ctx.attempt} fails permanently, as asked")
        raise TransientError(f"attempt {ctx.attempt} of {p.fail_times} failing ones")
    return FlakyResult(attempts=ctx.attempt)
