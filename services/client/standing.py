"""The calls of standing orders and the event log: schedules, subscriptions, past events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from schemas.events import EventPage
from schemas.notifications import NotificationView
from schemas.schedules import SchedulePage, SchedulePatch, ScheduleSubmit, ScheduleView
from schemas.subscriptions import (
    DeliveryPage,
    DeliveryView,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionView,
)
from services.client.calls import Call, call
from services.client.jobs import Id


def create_schedule(schedule: ScheduleSubmit | dict[str, Any]) -> Call[ScheduleView]:
    """Create a cron schedule that submits its job at every fire time."""
    if isinstance(schedule, dict):
        schedule = msgspec.convert(schedule, ScheduleSubmit)
    return call("POST", "/v1/schedules", ScheduleView, body=schedule)


def get_schedule(schedule_id: Id) -> Call[ScheduleView]:
    """A schedule: its next and last run, its last job."""
    return call("GET", f"/v1/schedules/{schedule_id}", ScheduleView)


def list_schedules(*, limit: int = 50, cursor: str | None = None) -> Call[SchedulePage]:
    """A page of schedules, newest first."""
    return call("GET", "/v1/schedules", SchedulePage, query={"limit": limit, "cursor": cursor})


def update_schedule(schedule_id: Id, patch: SchedulePatch) -> Call[ScheduleView]:
    """Change a schedule (a field left as None keeps its value)."""
    return call("PATCH", f"/v1/schedules/{schedule_id}", ScheduleView, body=patch)


def enable_schedule(schedule_id: Id, enabled: bool = True) -> Call[ScheduleView]:
    """Enable (from now) or disable a schedule."""
    return update_schedule(schedule_id, SchedulePatch(enabled=enabled))


def delete_schedule(schedule_id: Id) -> Call[None]:
    """Delete a schedule (the jobs it created stay)."""
    return call("DELETE", f"/v1/schedules/{schedule_id}", type(None))


def create_subscription(subscription: SubscriptionCreate | dict[str, Any]) -> Call[SubscriptionCreated]:
    """Create a subscription (webhook, e-mail or inbox); a webhook's secret is in this answer only."""
    if isinstance(subscription, dict):
        subscription = msgspec.convert(subscription, SubscriptionCreate)
    return call("POST", "/v1/subscriptions", SubscriptionCreated, body=subscription)


def get_subscription(subscription_id: Id) -> Call[SubscriptionView]:
    """A subscription (never its secret)."""
    return call("GET", f"/v1/subscriptions/{subscription_id}", SubscriptionView)


def list_subscriptions(*, limit: int = 50, cursor: str | None = None) -> Call[SubscriptionPage]:
    """A page of subscriptions, newest first."""
    return call("GET", "/v1/subscriptions", SubscriptionPage, query={"limit": limit, "cursor": cursor})


def delete_subscription(subscription_id: Id) -> Call[None]:
    """Delete a subscription."""
    return call("DELETE", f"/v1/subscriptions/{subscription_id}", type(None))


def enable_subscription(subscription_id: Id) -> Call[SubscriptionView]:
    """Enable a subscription that was disabled (a receiver answered 410)."""
    return call("POST", f"/v1/subscriptions/{subscription_id}/enable", SubscriptionView)


def test_subscription(subscription_id: Id) -> Call[DeliveryView | NotificationView]:
    """Send a test (ping): the queued delivery, or the inbox notice written."""

    def decode(content: bytes) -> DeliveryView | NotificationView:
        raw = msgspec.json.decode(content)
        if "title" in raw:
            return msgspec.convert(raw, NotificationView)
        return msgspec.convert(raw, DeliveryView)

    return Call("POST", f"/v1/subscriptions/{subscription_id}/test", decode)


def list_deliveries(subscription_id: Id, *, limit: int = 50, cursor: str | None = None) -> Call[DeliveryPage]:
    """A page of a subscription's deliveries, newest first, with every attempt."""
    query = {"limit": limit, "cursor": cursor}
    return call("GET", f"/v1/subscriptions/{subscription_id}/deliveries", DeliveryPage, query=query)


def list_events(
    *,
    after: int = 0,
    job_id: Id | None = None,
    workflow_id: Id | None = None,
    tag: Sequence[str] = (),
    type: Sequence[str] = (),
    limit: int = 100,
) -> Call[EventPage]:
    """A page of past events, oldest first; pass `next_after` back as `after` for the next one."""
    filters = {"job_id": job_id, "workflow_id": workflow_id, "tag": list(tag), "type": list(type)}
    return call("GET", "/v1/events", EventPage, query={**filters, "after": after, "limit": limit})
