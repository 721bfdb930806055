"""Job states, transitions, priorities and the submission contract."""

from __future__ import annotations

import msgspec
import pytest

from schemas.jobs import (
    TERMINAL,
    TRANSITIONS,
    JobStatus,
    JobSubmit,
    can_transition,
    dependency_errors,
    priority_value,
    sources_of,
)


def test_transitions_cover_every_status() -> None:
    assert set(TRANSITIONS) == set(JobStatus)


def test_terminal_statuses_only_leave_by_retry() -> None:
    # Given the terminal statuses, When listing where they may go, Then only back to queued
    # (or, for a failed job replayed at a paced rate, to scheduled; a retried workflow's node to waiting)
    for status in TERMINAL:
        assert TRANSITIONS[status] <= {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.WAITING}
    assert TRANSITIONS[JobStatus.CANCELLED] == {JobStatus.QUEUED, JobStatus.WAITING}
    assert TRANSITIONS[JobStatus.SUCCEEDED] == frozenset()


def test_can_transition_follows_the_table() -> None:
    assert can_transition(JobStatus.QUEUED, JobStatus.RUNNING)
    assert not can_transition(JobStatus.QUEUED, JobStatus.SUCCEEDED)
    assert not can_transition(JobStatus.SUCCEEDED, JobStatus.QUEUED)


def test_sources_of_cancelled_excluding_running_is_the_cancel_now_guard() -> None:
    assert sources_of(JobStatus.CANCELLED, excluding=frozenset({JobStatus.RUNNING})) == [
        "queued",
        "retrying",
        "scheduled",
        "waiting",
    ]


@pytest.mark.parametrize(
    ("given", "expected"), [("low", 1), ("normal", 5), ("high", 7), ("critical", 9), (0, 0), (9, 9)]
)
def test_priority_value_accepts_names_and_numbers(given: int | str, expected: int) -> None:
    assert priority_value(given) == expected


def test_names_rank_in_order() -> None:
    assert priority_value("low") < priority_value("normal") < priority_value("high") < priority_value("critical")


@pytest.mark.parametrize("priority", [10, -1, "urgent", 1.5])
def test_submit_rejects_priority_out_of_range(priority: object) -> None:
    with pytest.raises(msgspec.ValidationError, match="priority"):
        msgspec.convert({"engine": "general", "operation": "echo", "priority": priority}, JobSubmit)


@pytest.mark.parametrize("field", ["status", "tenant", "attempts", "result"])
def test_submit_refuses_server_owned_fields(field: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=f"unknown field `{field}`"):
        msgspec.convert({"engine": "general", "operation": "echo", field: "x"}, JobSubmit)


def test_submit_defaults() -> None:
    submit = msgspec.convert({"engine": "general", "operation": "echo"}, JobSubmit)
    assert (submit.priority, submit.max_retries, submit.params, submit.tags) == ("normal", 3, {}, [])


def test_dependency_errors_name_repeats_and_references_to_jobs_not_depended_on() -> None:
    a, b = "0190d7a0-0000-7000-8000-00000000000a", "0190d7a0-0000-7000-8000-00000000000b"
    params = {
        "x": {"$ref": f"{a}.result.value"},
        "y": [{"$ref": f"{b}.artifacts.card.png"}],
        "z": {"$ref": f"{a}.params"},
        "w": {"$ref": "upstream.result"},
    }
    submit = msgspec.convert(
        {"engine": "general", "operation": "echo", "params": params, "depends_on": [a, a]}, JobSubmit
    )
    errors = [(e.field, e.message) for e in dependency_errors(submit, "jobs[2]")]
    assert errors[0] == ("jobs[2].depends_on[1]", "repeats depends_on[0]")
    assert [field for field, _ in errors[1:]] == ["jobs[2].params"] * 3
    assert f"{b} is not in depends_on" in errors[1][1]
    assert all("write" in message for _, message in errors[2:])
    clean = msgspec.convert(
        {"engine": "general", "operation": "echo", "params": {"x": params["x"]}, "depends_on": [a]}, JobSubmit
    )
    assert dependency_errors(clean, "") == []
