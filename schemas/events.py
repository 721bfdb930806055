"""The event log: what happened to a job or workflow, as streams, pages and webhooks carry it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

#: Every public event type. A job's: one per status it enters (`job.started` is `running`),
#: and its progress; a workflow's: when it is submitted and when it ends.
JOB_EVENT_TYPES: tuple[str, ...] = (
    "job.scheduled",
    "job.waiting",
    "job.queued",
    "job.started",
    "job.progress",
    "job.retrying",
    "job.succeeded",
    "job.failed",
    "job.cancelled",
)
WORKFLOW_EVENT_TYPES: tuple[str, ...] = (
    "workflow.started",
    "workflow.succeeded",
    "workflow.failed",
    "workflow.cancelled",
)
EVENT_TYPES: tuple[str, ...] = JOB_EVENT_TYPES + WORKFLOW_EVENT_TYPES
#: What a subscription or filter may name besides exact types.
EVENT_PATTERNS: tuple[str, ...] = ("*", "job.*", "workflow.*")
#: The types `notify` sends when it names none (conveyor_notify_default_events in SQL).
TERMINAL_EVENT_TYPES: tuple[str, ...] = (
    "job.succeeded",
    "job.failed",
    "job.cancelled",
    "workflow.succeeded",
    "workflow.failed",
    "workflow.cancelled",
)


def event_matches(patterns: list[str] | tuple[str, ...], event_type: str) -> bool:
    """Whether `event_type` is one of `patterns` (exact types, `<kind>.*`, `*`), as
    conveyor_event_matches decides it in SQL."""
    kind = event_type.split(".", 1)[0]
    return event_type in patterns or "*" in patterns or f"{kind}.*" in patterns


class EventView(msgspec.Struct, kw_only=True):
    """One event: `data` is the job's (JobView) or workflow's (WorkflowSummary) view at that moment."""

    id: int
    type: str
    job_id: uuid.UUID | None
    workflow_id: uuid.UUID | None
    tags: list[str]
    data: dict[str, Any]
    created_at: datetime


class EventPage(msgspec.Struct, kw_only=True):
    """Events oldest first; `next_after` continues after the last one (null when none)."""

    items: list[EventView]
    next_after: int | None
