"""How an attempt's end is classified."""

from __future__ import annotations

import uuid

import pytest

from actors.outcome import ClaimedJob, decide, error_record
from actors.provider_errors import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from actors.sdk import (
    JobCancelled,
    JobReleased,
    JobTimedOut,
    LeaseLost,
    PermanentError,
    TransientError,
    load_engines,
)
from schemas.jobs import ErrorCategory, JobStatus

FLAKY = load_engines().get("general", "flaky")


def _job(attempts: int = 1, max_retries: int = 3, retry_base: int = 0, retry_on: list[str] | None = None) -> ClaimedJob:
    return ClaimedJob(
        id=uuid.uuid4(), tenant="t", engine="general", operation="flaky", status=JobStatus.RUNNING, priority=5,
        params={}, attempts=attempts, retry_base=retry_base, max_retries=max_retries, retry_backoff_seconds=2.0,
        retry_backoff_max_seconds=60.0, timeout_seconds=10.0, retry_on=retry_on,
    )  # fmt: skip


def test_success_records_the_result() -> None:
    outcome = decide(_job(), FLAKY, result={"attempts": 1})
    assert (outcome.status, outcome.result, outcome.dead_letter) == (JobStatus.SUCCEEDED, {"attempts": 1}, False)


def test_transient_error_is_retried_with_backoff() -> None:
    outcome = decide(_job(attempts=2), FLAKY, exception=TransientError("later"), rand=lambda: 1.0)
    assert outcome.status is JobStatus.RETRYING
    assert outcome.retry_in == pytest.approx(4.0)
    assert outcome.error == {"type": "TransientError", "message": "later", "category": "transient"}


def test_unclassified_errors_count_as_transient() -> None:
    assert decide(_job(), FLAKY, exception=ConnectionResetError()).status is JobStatus.RETRYING


def test_exhausted_retries_fail_and_dead_letter() -> None:
    outcome = decide(_job(attempts=4, max_retries=3), FLAKY, exception=TransientError("again"))
    assert (outcome.status, outcome.dead_letter, outcome.error["category"]) == (JobStatus.FAILED, True, "transient")  # type: ignore[index]


def test_manual_retry_restarts_the_budget() -> None:
    assert decide(_job(attempts=5, retry_base=4), FLAKY, exception=TransientError("x")).status is JobStatus.RETRYING


def test_permanent_error_fails_at_once() -> None:
    outcome = decide(_job(), FLAKY, exception=PermanentError("bad input"))
    assert (outcome.status, outcome.dead_letter, outcome.error["category"]) == (JobStatus.FAILED, True, "permanent")  # type: ignore[index]


def test_timeout_fails_with_its_category() -> None:
    outcome = decide(_job(), FLAKY, exception=JobTimedOut())
    assert outcome.error is not None and outcome.error["category"] == "timeout"
    assert "10 s" in outcome.error["message"]


def test_cancellation_is_not_a_failure() -> None:
    outcome = decide(_job(), FLAKY, exception=JobCancelled())
    assert (outcome.status, outcome.dead_letter) == (JobStatus.CANCELLED, False)


def test_lost_lease_records_nothing() -> None:
    assert decide(_job(), FLAKY, exception=LeaseLost()).status is None


def test_release_by_a_stopping_worker_queues_the_job_again() -> None:
    outcome = decide(_job(), FLAKY, exception=JobReleased())
    assert (outcome.status, outcome.event, outcome.error, outcome.dead_letter) == (
        JobStatus.QUEUED,
        "job_released",
        None,
        False,
    )


def test_error_messages_never_carry_a_nul_character() -> None:
    # PostgreSQL cannot store U+0000: an error message holding one is kept readable instead
    record = error_record(ValueError("bad\x00byte"), ErrorCategory.PERMANENT)
    assert record["message"] == "bad\\0byte"


def test_a_delay_the_operation_names_replaces_the_backoff() -> None:
    # Given an operation keeping a schedule of its own (a webhook delivery)
    outcome = decide(_job(attempts=2), FLAKY, exception=TransientError("503", retry_in=300.0), rand=lambda: 0.0)
    # Then its delay is kept as named, not the job's backoff
    assert (outcome.status, outcome.retry_in) == (JobStatus.RETRYING, 300.0)


def test_a_named_delay_still_stops_at_the_retry_ceiling() -> None:
    outcome = decide(_job(attempts=4, max_retries=3), FLAKY, exception=TransientError("503", retry_in=1.0))
    assert (outcome.status, outcome.dead_letter) == (JobStatus.FAILED, True)


def test_a_negative_named_delay_means_now() -> None:
    assert decide(_job(), FLAKY, exception=TransientError("x", retry_in=-5)).retry_in == 0.0


def test_retry_on_retries_only_the_error_types_it_names() -> None:
    # Given a job retried on rate limits only
    job = _job(retry_on=["ProviderRateLimited"])
    # Then a rate limit is retried (after the delay the provider named), another transient error is not
    limited = decide(job, FLAKY, exception=ProviderRateLimited("429", retry_in=7.0))
    assert (limited.status, limited.retry_in) == (JobStatus.RETRYING, 7.0)
    unavailable = decide(job, FLAKY, exception=ProviderUnavailable("503"))
    assert (unavailable.status, unavailable.dead_letter) == (JobStatus.FAILED, True)
    assert unavailable.error is not None and unavailable.error["category"] == "transient"
    # And the retry budget still holds
    assert (
        decide(_job(attempts=4, retry_on=["ProviderRateLimited"]), FLAKY, exception=ProviderRateLimited("429")).status
        is JobStatus.FAILED
    )


def test_retry_on_a_base_type_or_a_category_takes_in_its_kinds() -> None:
    assert (
        decide(_job(retry_on=["TransientError"]), FLAKY, exception=ProviderUnavailable("503")).status
        is JobStatus.RETRYING
    )
    assert decide(_job(retry_on=["transient"]), FLAKY, exception=ConnectionResetError()).status is JobStatus.RETRYING
    # a permanent error type named is retried too; other permanent ones are not
    assert (
        decide(_job(retry_on=["ProviderRejected"]), FLAKY, exception=ProviderRejected("400")).status
        is JobStatus.RETRYING
    )
    assert (
        decide(_job(retry_on=["ProviderRejected"]), FLAKY, exception=PermanentError("bad")).status is JobStatus.FAILED
    )


def test_a_timeout_is_retried_when_retry_on_lists_it() -> None:
    assert decide(_job(), FLAKY, exception=JobTimedOut()).status is JobStatus.FAILED
    outcome = decide(_job(retry_on=["timeout"]), FLAKY, exception=JobTimedOut(), rand=lambda: 1.0)
    assert (outcome.status, outcome.retry_in) == (JobStatus.RETRYING, pytest.approx(2.0))
    assert outcome.error is not None and outcome.error["category"] == "timeout"
    assert decide(_job(retry_on=["timeout"]), FLAKY, exception=TransientError("x")).status is JobStatus.FAILED
