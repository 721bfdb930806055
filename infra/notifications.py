"""Inbox repository: a tenant's notices, read and unread."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.notifications import NotificationView


def to_view(row: asyncpg.Record) -> NotificationView:
    """A notice row as the API shows it."""
    return msgspec.convert(dict(row), NotificationView)


async def list_notifications(
    db: Db, tenant: str, *, unread: bool, after: uuid.UUID | None, limit: int
) -> list[NotificationView]:
    """A page of a tenant's inbox (only its unread notices if `unread`), newest first."""
    return [to_view(row) for row in await db.fetch(QUERIES.list_notifications, tenant, unread, after, limit)]


async def unread_count(db: Db, tenant: str) -> int:
    """How many notices of a tenant's inbox are unread."""
    count: int = await db.fetchval(QUERIES.count_unread_notifications, tenant)
    return count


async def mark_read(db: Db, tenant: str, notification_id: uuid.UUID) -> NotificationView | None:
    """Mark a notice read (again: it keeps its first read_at); None if the tenant has none such."""
    row = await db.fetchrow(QUERIES.read_notification, notification_id, tenant)
    return None if row is None else to_view(row)


async def mark_all_read(db: Db, tenant: str, *, up_to: uuid.UUID | None) -> int:
    """Mark a tenant's unread notices read (up to and including `up_to` if given); how many."""
    count: int = await db.fetchval(QUERIES.read_all_notifications, tenant, up_to)
    return count
