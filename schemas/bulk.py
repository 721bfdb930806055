"""Bulk actions on jobs: the selectors (ids or a filter) and what each action did."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

import msgspec
from msgspec import Meta

from schemas.errors import FieldError
from schemas.jobs import JobStatus, Tag

#: The most jobs one bulk action (cancel, retry, dead-letter replay or purge) acts on.
BULK_LIMIT = 10_000
JobIds = Annotated[list[uuid.UUID], Meta(min_length=1, max_length=BULK_LIMIT)]
#: A bulk body's selectors as JSON Schema says it: ids (and no filter) or a filter (and no ids).
ONE_SELECTOR: list[dict[str, Any]] = [
    {"required": ["ids"], "properties": {"ids": {"type": "array"}, "filter": {"type": "null"}}},
    {"required": ["filter"], "properties": {"filter": {"type": "object"}, "ids": {"type": "null"}}},
]


def one_selector(ids: object, where: object) -> list[FieldError]:
    """What is wrong with a bulk body's selectors: it names exactly one of `ids` and `filter`."""
    if ids is None and where is None:
        return [FieldError("ids", "give either ids or filter")]
    if ids is not None and where is not None:
        return [FieldError("filter", "give either ids or filter, not both")]
    return []


class JobBulkFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The jobs a bulk action selects, as GET /v1/jobs filters them (every field optional)."""

    status: list[JobStatus] | JobStatus | None = None
    engine: str | None = None
    operation: str | None = None
    tag: list[Tag] | Tag | None = None  # jobs carrying every one of these tags
    created_after: Annotated[datetime, Meta(tz=True)] | None = None
    created_before: Annotated[datetime, Meta(tz=True)] | None = None
    schedule_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    node_key: str | None = None


class JobBulkSelect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A bulk action's jobs: up to 10,000 ids, or a filter (exactly one of the two)."""

    ids: JobIds | None = None
    filter: JobBulkFilter | None = None
    #: Published in the OpenAPI document: exactly one of ids and filter.
    schema_rules: ClassVar[dict[str, Any]] = {"oneOf": ONE_SELECTOR}


class JobBulkCancelView(msgspec.Struct, kw_only=True):
    """What a bulk cancel did, per outcome; `more`: more jobs matched the filter than one call acts on."""

    cancelled: int  # had not started: they will never run
    cancel_requested: int  # running: their workers were told to stop them
    not_cancellable: int  # already finished
    not_found: int  # no such job of the tenant
    more: bool = False


class JobBulkRetryView(msgspec.Struct, kw_only=True):
    """What a bulk retry did, per outcome; `more`: more jobs matched the filter than one call acts on."""

    retried: int  # queued again, attempts continuing with a fresh retry budget
    not_retryable: int  # neither failed nor cancelled, or a workflow's node
    not_found: int  # no such job of the tenant
    more: bool = False
