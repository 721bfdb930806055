"""How an attempt ended, decided from what the operation returned or raised. No I/O."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from actors.sdk import (
    JobCancelled,
    JobReleased,
    JobTimedOut,
    LeaseLost,
    Operation,
    PermanentError,
    TransientError,
)
from schemas.errors import nul_field
from schemas.jobs import ErrorCategory, JobStatus
from schemas.retry import backoff_delay, should_retry

MAX_ERROR_MESSAGE = 4000


class ClaimedJob(msgspec.Struct, kw_only=True):
    """A job as its worker claimed it."""

    id: uuid.UUID
    tenant: str
    engine: str
    operation: str
    status: JobStatus
    priority: int
    params: dict[str, Any]
    attempts: int
    retry_base: int
    max_retries: int
    retry_backoff_seconds: float
    retry_backoff_max_seconds: float
    timeout_seconds: float
    error: dict[str, Any] | None = None
    #: The error categories and types it is retried on; None: transient errors.
    retry_on: list[str] | None = None


@dataclass(frozen=True)
class Outcome:
    """What to record of an attempt; `status` None means nothing (the job is no longer ours)."""

    status: JobStatus | None
    event: str
    result: Any = None
    error: dict[str, Any] | None = None
    retry_in: float | None = None
    dead_letter: bool = False


def error_record(exc: BaseException, category: ErrorCategory, message: str | None = None) -> dict[str, Any]:
    """The `error` of a job: type, message, category."""
    text = (message or str(exc) or type(exc).__name__).replace("\x00", "\\0")  # PostgreSQL stores no NUL
    return {"type": type(exc).__name__, "message": text[:MAX_ERROR_MESSAGE], "category": category.value}


def categorize(exc: BaseException, op: Operation | None) -> ErrorCategory:
    """Whether an error is worth retrying."""
    if isinstance(exc, PermanentError) or (op is not None and isinstance(exc, op.permanent_errors)):
        return ErrorCategory.PERMANENT
    return ErrorCategory.TRANSIENT


def decide(
    job: ClaimedJob,
    op: Operation | None,
    *,
    result: Any = None,
    exception: BaseException | None = None,
    rand: Callable[[], float] = random.random,
) -> Outcome:
    """The outcome of an attempt that returned `result` or raised `exception`."""
    if exception is None:
        return Outcome(JobStatus.SUCCEEDED, "job_succeeded", result=result)
    if isinstance(exception, LeaseLost):
        return Outcome(None, "job_lease_lost")
    if isinstance(exception, JobReleased):
        return Outcome(JobStatus.QUEUED, "job_released")
    if isinstance(exception, JobCancelled):
        error = error_record(exception, ErrorCategory.CANCELLED, "cancelled on request")
        return Outcome(JobStatus.CANCELLED, "job_cancelled", error=error)
    if isinstance(exception, JobTimedOut):
        category = ErrorCategory.TIMEOUT
        error = error_record(exception, category, f"ran past its time limit of {job.timeout_seconds:g} s")
    else:
        category = categorize(exception, op)
        error = error_record(exception, category)
    tries = job.attempts - job.retry_base
    if retried(job, category, exception) and should_retry(tries, job.max_retries):
        delay = retry_delay(exception, tries, job, rand)
        return Outcome(JobStatus.RETRYING, "job_retry_scheduled", error=error, retry_in=delay)
    return Outcome(JobStatus.FAILED, "job_failed", error=error, dead_letter=True)


def retried(job: ClaimedJob, category: ErrorCategory, exception: BaseException) -> bool:
    """Whether the job's retry policy retries this error, its budget aside: by default transient
    errors; with `retry_on`, those of a category it lists or of a type it names (the error's
    class or a base of it, so "TransientError" takes in ProviderRateLimited)."""
    if job.retry_on is None:
        return category is ErrorCategory.TRANSIENT
    if category.value in job.retry_on:
        return True
    return any(cls.__name__ in job.retry_on for cls in type(exception).__mro__)


def retry_delay(exception: BaseException, tries: int, job: ClaimedJob, rand: Callable[[], float]) -> float:
    """When a transiently failed attempt runs again: the delay the operation named (its own
    schedule), else the job's exponential backoff."""
    if isinstance(exception, TransientError) and exception.retry_in is not None:
        return max(float(exception.retry_in), 0.0)
    return backoff_delay(tries, job.retry_backoff_seconds, job.retry_backoff_max_seconds, rand=rand)


def outcome_log(outcome: Outcome) -> tuple[str, dict[str, Any]]:
    """The log event and fields that tell how an attempt ended."""
    fields: dict[str, Any] = {}
    if outcome.error is not None:
        fields = {"error_type": outcome.error["type"], "error": outcome.error["message"]}
    if outcome.retry_in is not None:
        fields["retry_in"] = round(outcome.retry_in, 3)
    return outcome.event, fields


def encode_result(op: Operation, value: Any) -> Any:
    """The JSON-ready result of an operation, checked against its result Struct."""
    try:
        checked = value if isinstance(value, op.result) else msgspec.convert(value, op.result)
    except msgspec.ValidationError as exc:
        raise PermanentError(f"{op.key} returned a result that does not fit {op.result.__name__}: {exc}") from None
    built = msgspec.to_builtins(checked)
    if where := nul_field(built, "result"):
        raise PermanentError(f"{op.key} returned text with a NUL character at {where}, which cannot be stored")
    return built
