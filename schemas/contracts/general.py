"""Contracts of the `general` engine: diagnostic operations (echo, sleep, block, flaky)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from schemas.contracts import contract


class EchoParams(msgspec.Struct, forbid_unknown_fields=True):
    value: Any


class EchoResult(msgspec.Struct):
    value: Any


ECHO = contract(
    "general",
    "echo",
    params=EchoParams,
    result=EchoResult,
    description="Return the value given.",
    example={"value": {"hello": "world"}},
)


class SleepParams(msgspec.Struct, forbid_unknown_fields=True):
    seconds: Annotated[float, Meta(ge=0, le=86_400)]


class SleepResult(msgspec.Struct):
    slept: float


SLEEP = contract(
    "general",
    "sleep",
    params=SleepParams,
    result=SleepResult,
    description="Sleep for a number of seconds, reporting progress and stopping at once when cancelled.",
    example={"seconds": 5},
)

BLOCK = contract(
    "general",
    "block",
    params=SleepParams,
    result=SleepResult,
    description=(
        "Sleep in one blocking call that no cancellation or time limit can cut short, as a job stuck in "
        "native code does (how a stopping worker copes with a thread it cannot interrupt). Offered only "
        "with CONVEYOR_DIAGNOSTICS=1."
    ),
    example={"seconds": 1},
    diagnostic=True,
)


class FlakyParams(msgspec.Struct, forbid_unknown_fields=True):
    fail_times: Annotated[int, Meta(ge=0, le=1_000)] = 1
    permanent: bool = False


class FlakyResult(msgspec.Struct):
    attempts: int


FLAKY = contract(
    "general",
    "flaky",
    params=FlakyParams,
    result=FlakyResult,
    description="Fail the first `fail_times` attempts (transiently, or permanently), then succeed.",
    example={"fail_times": 2},
)
