"""Delivery repository: what sending a delivery takes, and the record of each attempt.

Attempts are recorded with one guarded statement: only a `pending` delivery takes one, so a
job run twice (a worker killed after the record, before its job's outcome) cannot record a
settled delivery again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from infra import subscriptions
from infra.db import Db
from infra.sql import QUERIES

DeliveryStatus = Literal["pending", "delivered", "failed"]
DISABLED_TITLE = "Webhook subscription disabled"


class Delivery(msgspec.Struct, kw_only=True):
    """A delivery as its sender sees it."""

    id: uuid.UUID
    tenant: str
    subscription_id: uuid.UUID | None
    channel: Literal["webhook", "email"]
    target: str
    event_id: int | None
    event_type: str
    job_id: uuid.UUID
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    subscription_secret: str | None = None
    subscription_disabled_at: datetime | None = None
    subscription_description: str | None = None
    event_data: dict[str, Any] | None = None
    event_at: datetime | None = None
    event_job_id: uuid.UUID | None = None
    event_workflow_id: uuid.UUID | None = None
    title: str = ""
    body: str = ""

    @property
    def is_ping(self) -> bool:
        """Whether this is a test delivery (no event behind it)."""
        return self.event_id is None


class Attempt(msgspec.Struct, kw_only=True):
    """How one attempt ended, as recorded."""

    at: datetime
    status: DeliveryStatus
    status_code: int | None = None
    error: str | None = None
    duration_ms: float = 0.0


async def get(db: Db, delivery_id: uuid.UUID) -> Delivery | None:
    """A delivery with its subscription's secret and its event, or None if it is gone."""
    row = await db.fetchrow(QUERIES.get_delivery_to_send, delivery_id)
    return None if row is None else msgspec.convert(dict(row), Delivery)


async def record_attempt(db: Db, delivery_id: uuid.UUID, attempt: Attempt) -> int | None:
    """Record an attempt and the delivery's new state; its number, or None if the delivery
    was no longer pending (nothing written)."""
    number = await db.fetchval(
        QUERIES.record_delivery_attempt,
        delivery_id,
        attempt.status,
        attempt.at,
        attempt.status_code,
        attempt.error,
        attempt.duration_ms,
    )
    return None if number is None else int(number)


async def disable_subscription(db: Db, subscription_id: uuid.UUID, reason: str, title: str, body: str) -> bool:
    """Disable a subscription and leave its tenant an inbox notice; False if it already was."""
    return await db.fetchval(QUERIES.disable_subscription, subscription_id, reason, title, body) is not None


async def record_gone(
    pool: asyncpg.Pool, delivery: Delivery, attempt: Attempt, *, reason: str, notice: str
) -> int | None:
    """Record the failed attempt of a receiver that answered 410 and, in the same transaction,
    disable its subscription with an inbox notice; the attempt's number (None: already settled)."""
    async with pool.acquire() as conn, conn.transaction():
        number = await record_attempt(conn, delivery.id, attempt)
        if number is not None and delivery.subscription_id is not None:
            await disable_subscription(conn, delivery.subscription_id, reason, DISABLED_TITLE, notice)
    return number


async def get_or_create_callback_secret(db: Db, tenant: str) -> str:
    """The tenant's callback secret (`whsec_…`, signing its `notify` webhooks), made on first use."""
    return (await subscriptions.callback_secret(db, tenant)).secret
