"""The rules behind the OpenAPI document: strict decoding, allowed values, cursors, cron."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime

import pytest

from schemas.errors import FieldError, allowed_values, enum_hint
from schemas.ids import decode_time_cursor
from schemas.jobs import JobBatchSubmit, JobStatus, JobSubmit
from schemas.schedules import CRON_PATTERN, cron_trigger
from services.gateway.requests import strict_errors

ECHO = {"engine": "general", "operation": "echo", "params": {"value": 1}}


def test_allowed_values_follow_the_path_into_lists_and_unions() -> None:
    assert allowed_values(JobSubmit, "priority") == ["0–9", "critical", "high", "low", "normal"]
    assert allowed_values(JobBatchSubmit, "jobs[3].on_dependency_failure") == ["cancel", "run"]
    assert allowed_values(list[JobStatus] | None, "") == [s.value for s in JobStatus]
    assert allowed_values(JobSubmit, "tags") == [] and allowed_values(JobSubmit, "max_retries") == []


def test_enum_hint_adds_the_values_only_to_a_choice() -> None:
    hinted = enum_hint(FieldError("status", "Invalid enum value 'x'"), list[JobStatus], of="status")
    assert hinted.message.startswith("Invalid enum value 'x': must be one of scheduled, waiting")
    plain = FieldError("max_retries", "Expected `int`, got `str`")
    assert enum_hint(plain, JobSubmit) == plain


@pytest.mark.parametrize(
    ("change", "field"),
    [({"priority": "7"}, "priority"), ({"max_retries": "3"}, "max_retries"), ({"tags": [True]}, "tags[0]")],
)
def test_strict_errors_refuse_text_for_numbers(change: dict[str, object], field: str) -> None:
    assert [error.field for error in strict_errors(JobSubmit, {**ECHO, **change})] == [field]


def test_strict_errors_take_integral_numbers_and_rfc_3339_times() -> None:
    job = {**ECHO, "max_retries": 3.0, "retry_backoff_seconds": 2, "run_at": "2030-01-01T00:00:00Z"}
    assert strict_errors(JobSubmit, job) == []


def test_time_cursor_past_year_9999_continues_from_the_last_time() -> None:
    last = uuid.uuid4()
    for micros, expected in ((2**62, datetime.max), (-(2**62), datetime.min)):
        raw = micros.to_bytes(8, "big", signed=True) + last.bytes
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        assert decode_time_cursor(cursor) == (expected.replace(tzinfo=UTC), last)


@pytest.mark.parametrize("cron", ["*/5 * * * *", "0 9 * * MON-FRI", "0 0 1,15 * *", "30 0 9 * * 1", "59 23 31 12 7"])
def test_cron_pattern_states_expressions_a_schedule_takes(cron: str) -> None:
    assert re.match(CRON_PATTERN, cron)
    cron_trigger(cron, "UTC")


@pytest.mark.parametrize("cron", ["0", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8"])
def test_cron_pattern_refuses_what_a_schedule_refuses(cron: str) -> None:
    assert not re.match(CRON_PATTERN, cron)
