"""The event log, read: a tenant's events after an id, and events as streams send them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.events import EventFilter, EventView


@dataclass(frozen=True, slots=True)
class Published:
    """One event as streams send it: its tenant, its view, and that view as JSON and as a
    Server-Sent Events frame (encoded once, whatever the number of subscribers)."""

    tenant: str
    view: EventView
    json: bytes
    sse: bytes

    @property
    def id(self) -> int:
        """The event id."""
        return self.view.id

    @classmethod
    def of(cls, tenant: str, view: EventView) -> Published:
        """The event, encoded."""
        body = msgspec.json.encode(view)
        frame = b"id: %d\nevent: %s\ndata: %s\n\n" % (view.id, view.type.encode(), body)
        return cls(tenant=tenant, view=view, json=body, sse=frame)

    @classmethod
    def from_row(cls, row: Any) -> Published:
        """An events row (with its tenant) as a Published event."""
        fields = dict(row)
        tenant = fields.pop("tenant")
        return cls.of(tenant, msgspec.convert(fields, EventView))


async def list_events(
    db: Db, tenant: str, where: EventFilter, *, after: int, limit: int, until: int | None = None
) -> list[EventView]:
    """The tenant's events matching `where` with `after < id <= until`, oldest first."""
    rows = await db.fetch(
        QUERIES.list_events, tenant, after, until, limit, where.job_id, where.workflow_id, where.tags, where.types
    )
    return [msgspec.convert(dict(row), EventView) for row in rows]


async def published_events(
    db: Db, tenant: str, where: EventFilter, *, after: int, limit: int, until: int | None = None
) -> list[Published]:
    """As list_events, encoded for streams."""
    views = await list_events(db, tenant, where, after=after, limit=limit, until=until)
    return [Published.of(tenant, view) for view in views]
