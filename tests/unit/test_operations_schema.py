"""Queue controls as pure rules: why a job waits, which queues are limited, ETA arithmetic."""

from __future__ import annotations

import msgspec
import pytest

from actors.controls import QueueGate
from schemas.operations import GLOBAL, Controls, LimitsUpdate, QueueControl, drain_seconds, start_in_seconds


def controls(*rows: QueueControl) -> Controls:
    return Controls(rows)


def test_nothing_holds_a_job_back_without_controls() -> None:
    assert controls().waiting_reason("general") is None


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([QueueControl(queue="general", paused=True)], "queue_paused"),
        ([QueueControl(queue="general", max_concurrency=2, running=2)], "queue_limit"),
        ([QueueControl(queue="general", max_concurrency=2, running=1)], None),
        ([QueueControl(queue=GLOBAL, max_concurrency=5, running=5)], "global_limit"),
        ([QueueControl(queue="other", paused=True)], None),
        # a pause is named before a limit
        ([QueueControl(queue="general", paused=True, max_concurrency=1, running=1)], "queue_paused"),
    ],
)
def test_waiting_reason(rows: list[QueueControl], reason: str | None) -> None:
    assert controls(*rows).waiting_reason("general") == reason


def test_jobs_that_ended_since_the_count_free_their_slots() -> None:
    state = controls(QueueControl(queue="general", max_concurrency=2, running=2))
    assert state.waiting_reason("general", ended={"general": 1}) is None


def test_limited_queues_are_those_with_a_limit_or_all_under_a_global_one() -> None:
    state = controls(QueueControl(queue="general", max_concurrency=3), QueueControl(queue="video", paused=True))
    assert state.limited(["general", "video"]) == ["general"]
    assert controls(QueueControl(queue=GLOBAL, max_concurrency=9)).limited(["b", "a", "b"]) == ["a", "b"]


def test_capacity_is_threads_capped_by_every_limit() -> None:
    state = controls(QueueControl(queue="general", max_concurrency=3), QueueControl(queue=GLOBAL, max_concurrency=2))
    assert state.capacity("general", 12) == 2
    assert controls().capacity("general", 12) == 12
    assert controls().capacity("general", 0) == 0


def test_start_estimate_counts_jobs_ahead_and_running_per_slot() -> None:
    # one slot busy and nine ahead: ten jobs of 0.5 s finish first
    assert start_in_seconds(ahead=9, running=1, capacity=1, mean_run_seconds=0.5) == pytest.approx(5.0)
    # free slots: it starts now
    assert start_in_seconds(ahead=1, running=1, capacity=4, mean_run_seconds=2.0) == 0.0
    assert start_in_seconds(ahead=7, running=4, capacity=4, mean_run_seconds=2.0) == pytest.approx(4.0)


def test_drain_estimate() -> None:
    assert drain_seconds(queued=0, running=0, capacity=4, mean_run_seconds=1.0) == 0.0
    assert drain_seconds(queued=10, running=2, capacity=4, mean_run_seconds=1.0) == 3.0


def test_limits_update_keeps_what_it_leaves_out_and_refuses_bad_values() -> None:
    update = msgspec.json.decode(b'{"max_backlog": null}', type=LimitsUpdate)
    assert update.max_backlog is None and update.max_concurrency is msgspec.UNSET
    for body in (b'{"max_concurrency": 0}', b'{"max_backlog": -1}', b'{"max_concurrency": "2"}', b'{"x": 1}'):
        with pytest.raises(msgspec.ValidationError):
            msgspec.json.decode(body, type=LimitsUpdate)


def test_gate_closes_a_paused_or_held_queue_and_never_its_delay_queue() -> None:
    gate = QueueGate("p_")
    gate.refresh(controls(QueueControl(queue="general", paused=True)))
    assert not gate.accepts("p_general")
    assert gate.accepts("p_general.DQ") and gate.accepts("p_video")
    gate.held_back(["video"])
    assert not gate.accepts("p_video")
    gate.ended("video")  # a job of it ended here: its slot may take another
    assert gate.accepts("p_video")
    gate.refresh(controls())
    assert gate.accepts("p_general")
