"""Contracts of the `notifications` queue: Conveyor's own deliveries (webhook, e-mail), which
clients never submit; the fan-out writes their jobs in the transaction of the event."""

from __future__ import annotations

import uuid

import msgspec

from schemas.contracts import contract
from schemas.engines import NOTIFICATIONS

#: A delivery job's time limit when its row names none (a webhook answers within its own timeout).
DELIVERY_TIMEOUT_SECONDS = 120.0


class DeliveryParams(msgspec.Struct, forbid_unknown_fields=True):
    delivery_id: uuid.UUID


class DeliveryResult(msgspec.Struct, kw_only=True):
    delivery_id: uuid.UUID
    #: delivered, or what the delivery already was: delivered, failed, gone (deleted).
    status: str
    attempt: int | None = None
    status_code: int | None = None


WEBHOOK = contract(
    NOTIFICATIONS,
    "webhook",
    params=DeliveryParams,
    result=DeliveryResult,
    description="Send one webhook delivery, signed as Standard Webhooks says, to the checked address.",
    timeout_seconds=DELIVERY_TIMEOUT_SECONDS,
    internal=True,
)

EMAIL = contract(
    NOTIFICATIONS,
    "email",
    params=DeliveryParams,
    result=DeliveryResult,
    description="Send one e-mail delivery (text and HTML) through CONVEYOR_SMTP_URL.",
    timeout_seconds=DELIVERY_TIMEOUT_SECONDS,
    internal=True,
)
