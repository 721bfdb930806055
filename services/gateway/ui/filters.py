"""List pages' filters, read from the query string as the API's listings take them.

A form's empty field ("engine=") means no filter, so a filter form can be submitted as is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar.datastructures import ImmutableMultiDict, MultiDict

from infra.jobs import JobFilter
from schemas.errors import FieldError
from schemas.jobs import ErrorCategory, JobStatus, JobView
from services.gateway.errors import ApiError
from services.gateway.paging import after_cursor, text_filters, time_filters

#: A query string or a posted form.
Params = MultiDict[Any] | ImmutableMultiDict[Any]


def invalid(name: str, message: str) -> ApiError:
    """422 naming the query parameter at fault, as the API says it."""
    return ApiError(422, "invalid_request", f"{name}: {message}", [FieldError(name, message)])


def text(params: Params, name: str) -> str | None:
    """A text parameter ("" and missing: None)."""
    value = str(params.get(name) or "").strip()
    text_filters(**{name: value})
    return value or None


def texts(params: Params, name: str) -> list[str]:
    """A repeated text parameter, empty values dropped."""
    values = [str(v).strip() for v in params.getall(name, []) if str(v).strip()]
    text_filters(**{name: values})
    return values


def when(params: Params, name: str) -> datetime | None:
    """An RFC 3339 time (a form's local time without offset is taken as UTC)."""
    value = text(params, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, "not an RFC 3339 time") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    time_filters(**{name: parsed})
    return parsed


def identifier(params: Params, name: str) -> uuid.UUID | None:
    """An id parameter; 422 naming it if it is not one."""
    value = text(params, name)
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise invalid(name, "not an id") from None


def choice(params: Params, name: str, kind: type[JobStatus] | type[ErrorCategory]) -> list[Any]:
    """Repeated enum values; 422 naming the parameter for one that is none of them."""
    try:
        return [kind(value) for value in texts(params, name)]
    except ValueError:
        raise invalid(name, f"must be one of {', '.join(kind)}") from None


def limit(params: Params, default: int = 50, most: int = 500) -> int:
    """The page size."""
    value = text(params, "limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise invalid("limit", f"must be an integer from 1 to {most}")
    return int(value)


@dataclass
class JobQuery:
    """The jobs list's filters and page, as GET /v1/jobs takes them."""

    statuses: list[JobStatus] = field(default_factory=list)
    engine: str | None = None
    operation: str | None = None
    tags: list[str] = field(default_factory=list)
    created_after: datetime | None = None
    created_before: datetime | None = None
    schedule_id: uuid.UUID | None = None
    workflow_id: uuid.UUID | None = None
    node_key: str | None = None
    cursor: str | None = None
    limit: int = 50

    @classmethod
    def parse(cls, params: Params) -> JobQuery:
        """From a query string; 422 in the API's words for a bad value."""
        query = cls(
            statuses=choice(params, "status", JobStatus),
            engine=text(params, "engine"),
            operation=text(params, "operation"),
            tags=texts(params, "tag"),
            created_after=when(params, "created_after"),
            created_before=when(params, "created_before"),
            schedule_id=identifier(params, "schedule_id"),
            workflow_id=identifier(params, "workflow_id"),
            node_key=text(params, "node_key"),
            cursor=text(params, "cursor"),
            limit=limit(params),
        )
        after_cursor(query.cursor)
        return query

    def to_filter(self) -> JobFilter:
        """The repository's filter."""
        return JobFilter(
            statuses=[s.value for s in self.statuses] or None,
            engine=self.engine,
            operation=self.operation,
            tags=self.tags or None,
            created_after=self.created_after,
            created_before=self.created_before,
            schedule_id=self.schedule_id,
            workflow_id=self.workflow_id,
            node_key=self.node_key,
        )

    def params(self) -> dict[str, Any]:
        """The filters as query parameters (no cursor)."""
        return {
            "status": [s.value for s in self.statuses],
            "engine": self.engine,
            "operation": self.operation,
            "tag": self.tags,
            "created_after": self.created_after and self.created_after.isoformat(),
            "created_before": self.created_before and self.created_before.isoformat(),
            "schedule_id": self.schedule_id,
            "workflow_id": self.workflow_id,
            "node_key": self.node_key,
            "limit": None if self.limit == 50 else self.limit,
        }

    def matches(self, job: JobView) -> bool:
        """Whether a job belongs in the list these filters make."""
        return (
            (not self.statuses or job.status in self.statuses)
            and self.engine in (None, job.engine)
            and self.operation in (None, job.operation)
            and all(tag in job.tags for tag in self.tags)
            and (self.created_after is None or job.created_at >= self.created_after)
            and (self.created_before is None or job.created_at < self.created_before)
            and self.schedule_id in (None, job.schedule_id)
            and self.workflow_id in (None, job.workflow_id)
            and self.node_key in (None, job.node_key)
        )


def as_params(**values: str | list[str] | None) -> MultiDict[Any]:
    """Declared query parameters back as one MultiDict (lists repeat; None dropped)."""
    pairs = [(k, v) for k, given in values.items() for v in (given if isinstance(given, list) else [given])]
    return MultiDict([(k, v) for k, v in pairs if v is not None])


def provide_job_query(
    status: list[str] | None = None,
    engine: str | None = None,
    operation: str | None = None,
    tag: list[str] | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    schedule_id: str | None = None,
    workflow_id: str | None = None,
    node_key: str | None = None,
    cursor: str | None = None,
    limit: str | None = None,
) -> JobQuery:
    """The jobs list's filters (declared one by one, so an unknown parameter is refused)."""
    return JobQuery.parse(
        as_params(
            status=status,
            engine=engine,
            operation=operation,
            tag=tag,
            created_after=created_after,
            created_before=created_before,
            schedule_id=schedule_id,
            workflow_id=workflow_id,
            node_key=node_key,
            cursor=cursor,
            limit=limit,
        )
    )


def ids(form: Params, name: str = "ids") -> list[uuid.UUID]:
    """The ticked ids of a form; 422 naming `ids` for one that is not an id."""
    try:
        return [uuid.UUID(str(value)) for value in form.getall(name, [])]
    except ValueError:
        raise invalid(name, "not an id") from None
