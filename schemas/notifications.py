"""Where notices go (webhook URLs, e-mail addresses, event names) and the inbox's contract."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from schemas.errors import FieldError
from schemas.events import EVENT_PATTERNS, EVENT_TYPES

#: A mailbox as SMTP takes it: a dot-atom local part and a host name of dotted labels (≤ 63
#: each; ≤ 254 characters in all, by EmailAddress's length); no spaces, quotes, comments or line
#: breaks, so it cannot smuggle a header. (No look-ahead: generators of examples choke on it.)
EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
EmailAddress = Annotated[str, Meta(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]
#: A `notify` tells someone, as JSON Schema states it: a webhook, e-mail addresses or the inbox.
TELLS_SOMEONE: list[dict[str, Any]] = [
    {"required": ["webhook"], "properties": {"webhook": {"type": "string"}}},
    {"required": ["email"], "properties": {"email": {"minItems": 1}}},
    {"required": ["inbox"], "properties": {"inbox": {"const": True}}},
]
#: A webhook URL before the address guard has looked at it.
WebhookUrl = Annotated[
    str, Meta(min_length=1, max_length=2048, extra_json_schema={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s]+"})
]
#: An event type or pattern (`job.*`, `*`) as a subscription or `notify` names it.
EventName = Annotated[
    str, Meta(min_length=1, max_length=64, extra_json_schema={"enum": [*EVENT_TYPES, *EVENT_PATTERNS]})
]


def event_errors(names: Sequence[str], at: str, *, allowed: Sequence[str] = EVENT_TYPES) -> list[FieldError]:
    """A FieldError (`events[1]`) for each name that is neither an event type in `allowed` nor a pattern."""
    known = f"event types: {', '.join(allowed)}; or {', '.join(EVENT_PATTERNS)}"
    return [
        FieldError(f"{at}[{index}]", f"unknown event type {name!r}; {known}")
        for index, name in enumerate(names)
        if name not in allowed and name not in EVENT_PATTERNS
    ]


class NotificationView(msgspec.Struct, kw_only=True):
    """One notice of the inbox."""

    id: uuid.UUID
    title: str
    body: str
    event_type: str
    event_id: int | None
    job_id: uuid.UUID | None
    workflow_id: uuid.UUID | None
    subscription_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(msgspec.Struct, kw_only=True):
    """Notices newest first; `unread_count` counts the whole inbox, not this page."""

    items: list[NotificationView]
    next_cursor: str | None
    unread_count: int


class UnreadCount(msgspec.Struct, kw_only=True):
    """How many notices of the inbox are unread."""

    unread_count: int


class ReadAllView(msgspec.Struct, kw_only=True):
    """What marking the whole inbox read did."""

    marked: int
    unread_count: int
