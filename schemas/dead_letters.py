"""Dead letters: failed jobs as operators list, replay and purge them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import Meta

from schemas.bulk import ONE_SELECTOR, JobIds
from schemas.jobs import ErrorCategory, JobError, Tag

Tenant = Annotated[str, Meta(min_length=1, max_length=255)]


class DeadLetterView(msgspec.Struct, kw_only=True):
    """A failed job in the dead-letter list."""

    id: uuid.UUID
    tenant: str
    queue: str  # the engine, whose RabbitMQ queue's .XQ holds the message
    operation: str
    error: JobError | None
    attempts: int
    tags: list[str]
    failed_at: datetime
    created_at: datetime
    workflow_id: uuid.UUID | None = None
    node_key: str | None = None
    replayable: bool  # a workflow's node is not run again alone


class DeadLetterPage(msgspec.Struct):
    """One page of the dead-letter list, newest failure first."""

    items: list[DeadLetterView]
    next_cursor: str | None


class DeadLetterFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which dead letters (every field optional); `tenant` only for admin keys."""

    queue: str | None = None
    operation: str | None = None
    category: ErrorCategory | None = None
    tag: Tag | None = None
    since: Annotated[datetime, Meta(tz=True)] | None = None  # failed at or after
    tenant: Tenant | None = None


class DeadLetterSelect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Up to 10,000 dead letters by id, or a filter (exactly one); `tenant` only for admin keys."""

    ids: JobIds | None = None
    filter: DeadLetterFilter | None = None
    tenant: Tenant | None = None
    #: Published in the OpenAPI document: exactly one of ids and filter; the tenant named once
    #: (as `tenant` or as `filter.tenant`).
    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": ONE_SELECTOR,
        "not": {
            "required": ["tenant", "filter"],
            "properties": {
                "tenant": {"type": "string"},
                "filter": {"type": "object", "required": ["tenant"], "properties": {"tenant": {"type": "string"}}},
            },
        },
    }


class DeadLetterReplay(DeadLetterSelect, kw_only=True):
    """Dead letters to run again, optionally no more than `max_per_second` of them a second."""

    max_per_second: Annotated[float, Meta(ge=0.01, le=100_000)] | None = None


class QueueSweepView(msgspec.Struct, kw_only=True):
    """What a sweep of one dead-letter queue (`<queue>.XQ`) did.

    `removed`: messages of jobs that are no dead letters any more; `kept`: the others;
    `complete`: every message was looked at (not stopped by its bounds or an error).
    """

    queue: str
    removed: int
    kept: int
    complete: bool


class DeadLetterReplayView(msgspec.Struct, kw_only=True):
    """What a replay did.

    `not_replayable`: matched but not run again (workflow nodes); `not_found`: ids that are no
    dead letter of the tenant; `more`: more matched the filter than one call acts on (10,000);
    `paced_seconds`: how long until the last one is queued (0: all queued at once).
    """

    replayed: int
    not_replayable: int
    not_found: int
    more: bool
    paced_seconds: float
    dead_letter_queues: list[QueueSweepView]


class DeadLetterPurgeView(msgspec.Struct, kw_only=True):
    """What a purge did; fields as in DeadLetterReplayView."""

    purged: int
    not_found: int
    more: bool
    dead_letter_queues: list[QueueSweepView]
