"""The event log: what happened to a job or workflow, as streams, pages and webhooks carry it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

#: Every public event type. A job's: one per status it enters (`job.started` is `running`),
#: and its progress; a workflow's: when it is submitted (or retried) and when it ends.
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


class EventFilter(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Which of a tenant's events a listing or stream wants: all its conditions hold (an event
    carries every tag in `tags`; its type is one of `types`, exact or a pattern); None: any."""

    job_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    tags: list[str] | None = None
    types: list[str] | None = None

    @property
    def is_empty(self) -> bool:
        """Whether every event passes."""
        return self.job_id is None and self.workflow_id is None and not self.tags and not self.types

    def matches(self, event: EventView) -> bool:
        """Whether `event` passes the filter (as the listing's SQL decides it)."""
        return (
            (self.job_id is None or event.job_id == self.job_id)
            and (self.workflow_id is None or event.workflow_id == self.workflow_id)
            and (not self.tags or set(self.tags).issubset(event.tags))
            and (not self.types or event_matches(self.types, event.type))
        )


def type_errors(types: list[str] | None) -> list[str]:
    """The entries of `types` that are neither an event type nor a pattern."""
    return [t for t in types or () if t not in EVENT_TYPES and t not in EVENT_PATTERNS]


class StreamFilters(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The filters of a WebSocket subscription, named as GET /v1/events/stream's query."""

    job_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    tag: list[str] | str | None = None
    type: list[str] | str | None = None

    def to_filter(self) -> EventFilter:
        """As an EventFilter (a single tag or type as a list of one)."""
        tags = [self.tag] if isinstance(self.tag, str) else self.tag
        types = [self.type] if isinstance(self.type, str) else self.type
        return EventFilter(job_id=self.job_id, workflow_id=self.workflow_id, tags=tags or None, types=types or None)


class StreamSubscribe(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A WebSocket client's subscription: events after `after` (none: only new ones)."""

    subscribe: StreamFilters
    after: int | None = msgspec.field(default=None)
