"""Subscription repository: a tenant's subscriptions, their deliveries, pings and redeliveries,
and the secret that signs `notify` webhooks; and the address check of a webhook URL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from infra import notifications
from infra.db import Db
from infra.sql import QUERIES
from infra.webhook_guard import AddressRefused, check_async
from infra.webhooks import new_secret
from schemas.ids import uuid7
from schemas.notifications import NotificationView
from schemas.subscriptions import (
    MAX_SUBSCRIPTIONS,
    CallbackSecretView,
    DeliveryView,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionView,
)

#: How long resolving a webhook's host may take before the URL is refused.
RESOLVE_TIMEOUT_SECONDS = 5.0
PING_TITLE = "Test notice"
PING_BODY = "A test of this inbox subscription: notices of its events will look like this."


class TooManySubscriptions(Exception):
    """The tenant already has MAX_SUBSCRIPTIONS subscriptions."""


async def url_refusal(url: str, exemptions: frozenset[tuple[str, int]]) -> str | None:
    """Why a webhook may not be sent to `url` (the address guard's reason), or None if it may."""
    try:
        await asyncio.wait_for(check_async(url, exemptions), RESOLVE_TIMEOUT_SECONDS)
    except AddressRefused as exc:
        return str(exc)
    except TimeoutError:
        return f"its host did not resolve within {RESOLVE_TIMEOUT_SECONDS:g} seconds"
    return None


def to_view(row: asyncpg.Record) -> SubscriptionView:
    """A subscription row as the API shows it (without its secret)."""
    return msgspec.convert(_fields(row), SubscriptionView)


def _fields(row: asyncpg.Record) -> dict[str, Any]:
    fields = dict(row)
    fields["filter"] = {"tags": row["tags"], "engines": row["engines"], "operations": row["operations"]}
    return fields


def to_delivery(row: asyncpg.Record) -> DeliveryView:
    """A delivery row (with its `attempt_log`) as the API shows it."""
    return msgspec.convert(dict(row), DeliveryView)


async def create_subscription(pool: asyncpg.Pool, tenant: str, create: SubscriptionCreate) -> SubscriptionCreated:
    """Store a checked subscription; the new one with its secret (a webhook's), or
    TooManySubscriptions if the tenant has MAX_SUBSCRIPTIONS already."""
    where = create.filter
    secret = new_secret() if create.channel == "webhook" else None
    async with pool.acquire() as conn, conn.transaction():
        held = await conn.fetchrow(QUERIES.lock_tenant_subscriptions, tenant)
        if held["count"] >= MAX_SUBSCRIPTIONS:
            raise TooManySubscriptions
        row = await conn.fetchrow(
            QUERIES.insert_subscription,
            uuid7(),
            tenant,
            create.channel,
            create.url,
            create.address,
            list(dict.fromkeys(create.events)),
            list(dict.fromkeys(where.tags)) if where else [],
            list(dict.fromkeys(where.engines)) if where else [],
            list(dict.fromkeys(where.operations)) if where else [],
            create.description,
            secret,
        )
    return msgspec.convert({**_fields(row), "secret": secret}, SubscriptionCreated)


async def get_subscription(db: Db, tenant: str, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    """One subscription of a tenant, or None."""
    return await db.fetchrow(QUERIES.get_subscription, subscription_id, tenant)


async def list_subscriptions(db: Db, tenant: str, *, after: uuid.UUID | None, limit: int) -> list[asyncpg.Record]:
    """A page of a tenant's subscriptions, newest first."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.list_subscriptions, tenant, after, limit)
    return rows


async def delete_subscription(db: Db, tenant: str, subscription_id: uuid.UUID) -> bool:
    """Delete a subscription of a tenant (and its deliveries); False if it has none such."""
    return await db.fetchval(QUERIES.delete_subscription, subscription_id, tenant) is not None


async def enable_subscription(db: Db, tenant: str, subscription_id: uuid.UUID) -> asyncpg.Record | None:
    """Enable a subscription of a tenant again; its row, or None if it has none such."""
    return await db.fetchrow(QUERIES.enable_subscription, subscription_id, tenant)


async def rotate_secret(db: Db, tenant: str, subscription_id: uuid.UUID) -> SubscriptionCreated | None:
    """Give a webhook subscription of a tenant a new signing secret; the subscription with it,
    or None if the tenant has no such webhook subscription."""
    secret = new_secret()
    row = await db.fetchrow(QUERIES.rotate_subscription_secret, subscription_id, tenant, secret)
    return None if row is None else msgspec.convert({**_fields(row), "secret": secret}, SubscriptionCreated)


async def ping(db: Db, tenant: str, subscription: asyncpg.Record) -> DeliveryView | NotificationView:
    """Test a subscription: a `ping` delivery of a webhook or e-mail one (queued with its job),
    or a test notice in the inbox of an inbox one."""
    if subscription["channel"] == "inbox":
        row = await db.fetchrow(QUERIES.insert_ping_notice, uuid7(), tenant, subscription["id"], PING_TITLE, PING_BODY)
        return notifications.to_view(row)
    delivery_id = await db.fetchval(QUERIES.enqueue_ping, subscription["id"], tenant)
    delivery = await get_delivery(db, tenant, subscription["id"], delivery_id)
    assert delivery is not None  # made just now
    return delivery


async def get_delivery(db: Db, tenant: str, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryView | None:
    """One delivery of a subscription of a tenant, or None."""
    row = await db.fetchrow(QUERIES.get_delivery, delivery_id, subscription_id, tenant)
    return None if row is None else to_delivery(row)


async def list_deliveries(
    db: Db,
    tenant: str,
    subscription_id: uuid.UUID,
    *,
    statuses: Sequence[str] | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[DeliveryView]:
    """A page of a subscription's deliveries, newest first."""
    rows = await db.fetch(
        QUERIES.list_deliveries, subscription_id, tenant, None if statuses is None else list(statuses), after, limit
    )
    return [to_delivery(row) for row in rows]


async def redeliver(db: Db, tenant: str, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> bool:
    """Send a finished delivery again under its id, by a new notifications job; False if it is
    unknown, still pending, or its subscription is disabled."""
    return await db.fetchval(QUERIES.redeliver, delivery_id, subscription_id, tenant) is not None


async def callback_secret(db: Db, tenant: str) -> CallbackSecretView:
    """The secret that signs a tenant's `notify` webhooks, made on first use."""
    for _ in range(2):  # empty only when another request made it at the same moment
        row = await db.fetchrow(QUERIES.get_or_create_callback_secret, tenant, new_secret())
        if row is not None:
            return msgspec.convert(dict(row), CallbackSecretView)
    raise RuntimeError(f"no callback secret could be made for tenant {tenant}")


async def rotate_callback_secret(db: Db, tenant: str) -> CallbackSecretView:
    """A new secret for a tenant's `notify` webhooks (the old one signs no more)."""
    row = await db.fetchrow(QUERIES.rotate_callback_secret, tenant, new_secret())
    return msgspec.convert(dict(row), CallbackSecretView)
