"""Subscriptions: a tenant's standing orders to hear of events by webhook, e-mail or inbox, and
the deliveries they make."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.engines import ENGINES
from schemas.errors import FieldError, nul_errors
from schemas.jobs import Tag
from schemas.notifications import EmailAddress, EventName, WebhookUrl, event_errors

#: The most subscriptions one tenant may keep.
MAX_SUBSCRIPTIONS = 100
Channel = Literal["webhook", "email", "inbox"]
#: An operation as a filter names it: `summarize` (of any engine) or `text_intelligence.summarize`.
OperationName = Annotated[str, Meta(min_length=1, max_length=129)]


class SubscriptionFilter(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which events of the subscribed types it hears: each list that is not empty must match
    (a tag the event carries, the job's engine, its operation); a workflow's events have no
    engine or operation, so an engine or operation filter hears none of them."""

    tags: Annotated[list[Tag], Meta(max_length=32)] = []
    engines: Annotated[list[Annotated[str, Meta(extra_json_schema={"enum": list(ENGINES)})]], Meta(max_length=16)] = []
    operations: Annotated[list[OperationName], Meta(max_length=64)] = []


class SubscriptionCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A subscription as a client asks for it: `url` for a webhook, `address` for e-mail."""

    channel: Channel
    events: Annotated[list[EventName], Meta(min_length=1, max_length=32)]
    url: WebhookUrl | None = None
    address: EmailAddress | None = None
    filter: SubscriptionFilter | None = None
    description: Annotated[str, Meta(max_length=500)] = ""
    #: Published in the OpenAPI document: a webhook has a url, an e-mail an address, and only they.
    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "properties": {"channel": {"const": "webhook"}, "url": {"type": "string"}, "address": {"type": "null"}},
                "required": ["url"],
            },
            {
                "properties": {"channel": {"const": "email"}, "address": {"type": "string"}, "url": {"type": "null"}},
                "required": ["address"],
            },
            {"properties": {"channel": {"const": "inbox"}, "url": {"type": "null"}, "address": {"type": "null"}}},
        ]
    }


def subscription_errors(create: SubscriptionCreate) -> list[FieldError]:
    """What is wrong with a subscription besides its URL's address and its operations' names."""
    errors = []
    if create.channel == "webhook" and create.url is None:
        errors.append(FieldError("url", "a webhook subscription needs a url"))
    if create.channel != "webhook" and create.url is not None:
        errors.append(FieldError("url", f"only a webhook subscription has a url, not {create.channel}"))
    if create.channel == "email" and create.address is None:
        errors.append(FieldError("address", "an email subscription needs an address"))
    if create.channel != "email" and create.address is not None:
        errors.append(FieldError("address", f"only an email subscription has an address, not {create.channel}"))
    errors += event_errors(create.events, "events")
    engines = create.filter.engines if create.filter else []
    errors += [
        FieldError(f"filter.engines[{index}]", f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
        for index, engine in enumerate(engines)
        if engine not in ENGINES
    ]
    return errors + nul_errors({"url": create.url, "description": create.description})


class SubscriptionFilterView(msgspec.Struct, kw_only=True):
    """A subscription's filter; empty lists match anything."""

    tags: list[str]
    engines: list[str]
    operations: list[str]


class SubscriptionView(msgspec.Struct, kw_only=True):
    """A subscription as the API shows it (never its secret). A receiver that answers 410 Gone
    disables its subscription: `disabled_at` and `disabled_reason` say when and why."""

    id: uuid.UUID
    channel: Channel
    url: str | None
    address: str | None
    events: list[str]
    filter: SubscriptionFilterView
    description: str
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime


class SubscriptionCreated(SubscriptionView, kw_only=True):
    """A new subscription; a webhook's signing `secret` (whsec_…) is shown here only, once."""

    secret: str | None


class SubscriptionPage(msgspec.Struct, kw_only=True):
    """Subscriptions newest first."""

    items: list[SubscriptionView]
    next_cursor: str | None


DeliveryStatus = Literal["pending", "delivered", "failed"]


class DeliveryAttemptView(msgspec.Struct, kw_only=True):
    """One try of a delivery: when, the receiver's HTTP status or the error, how long it took."""

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryView(msgspec.Struct, kw_only=True):
    """One message to one receiver. `id` is the same on every attempt and redelivery (the
    webhook-id a receiver deduplicates on); `event_id` is null for a ping."""

    id: uuid.UUID
    subscription_id: uuid.UUID | None
    channel: Literal["webhook", "email"]
    target: str
    event_type: str
    event_id: int | None
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    #: The tries, oldest first (the last 100).
    attempt_log: list[DeliveryAttemptView]


class DeliveryPage(msgspec.Struct, kw_only=True):
    """Deliveries newest first."""

    items: list[DeliveryView]
    next_cursor: str | None


class CallbackSecretView(msgspec.Struct, kw_only=True):
    """The secret that signs the webhooks of `notify` (Standard Webhooks, whsec_…)."""

    secret: str
    created_at: datetime
