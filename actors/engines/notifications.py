"""Internal operations of the `notifications` queue: send one delivery (webhook or e-mail).

The fan-out writes a `deliveries` row and a job `{"delivery_id": …}` in the transaction of
the event. Each run is one attempt: it is recorded (delivery_attempts, the delivery's state),
then the job ends as the attempt did. Failures worth another try raise TransientError with the
delay of the retry schedule (CONVEYOR_WEBHOOK_RETRY_SCHEDULE, jittered, stretched by a
receiver's Retry-After); past its end, or when trying again cannot help, PermanentError.
A delivery whose row is gone (its subscription was deleted) or already settled ends quietly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import msgspec

from actors.sdk import JobContext, JobError, JobTimedOut, PermanentError, TransientError, operation
from infra import deliveries, mail, webhook_guard, webhooks
from infra.deliveries import Attempt, Delivery
from schemas.contracts.notifications import EMAIL, WEBHOOK, DeliveryParams, DeliveryResult
from schemas.retry import parse_retry_after, scheduled_delay


class Verdict(Enum):
    """What a receiver's answer means for the delivery."""

    DELIVERED = "delivered"
    GONE = "gone"  # 410: the receiver wants no more; the subscription is disabled
    RETRY = "retry"
    FAIL = "fail"


def judge(status_code: int | None) -> Verdict:
    """2xx delivered; 410 gone; 429, 5xx and no answer at all retry; anything else (3xx, which is
    never followed, and other 4xx) fails."""
    if status_code is None or status_code == 429 or status_code >= 500:
        return Verdict.RETRY
    if 200 <= status_code < 300:
        return Verdict.DELIVERED
    return Verdict.GONE if status_code == 410 else Verdict.FAIL


def describe(status_code: int) -> str:
    """The recorded error of an answer that did not deliver."""
    if 300 <= status_code < 400:
        return f"answered {status_code}, a redirect, which is not followed"
    return f"answered {status_code}"


@operation(WEBHOOK)
def webhook(ctx: JobContext, p: DeliveryParams) -> DeliveryResult:
    """Send one webhook delivery, signed as Standard Webhooks says, to the checked address."""
    delivery = _sendable(ctx, p.delivery_id)
    if isinstance(delivery, DeliveryResult):
        return delivery
    started = datetime.now(UTC)
    try:
        target = webhook_guard.check(delivery.target, ctx.settings.webhook_private_exemptions())
    except webhook_guard.AddressRefused as exc:
        raise _failed(ctx, delivery, Attempt(at=started, status="failed", error=f"refused: the URL {exc}")) from None
    secret = delivery.subscription_secret or ctx.database(
        lambda pool: deliveries.get_or_create_callback_secret(pool, delivery.tenant)
    )
    body = webhooks.payload(delivery.event_type, delivery.event_at or delivery.created_at, _data(delivery))
    try:
        headers = webhooks.signed_headers(secret, str(delivery.id), body)
    except ValueError as exc:  # the message names no part of the secret
        raise _failed(ctx, delivery, Attempt(at=started, status="failed", error=str(exc))) from None
    try:
        answer = webhooks.send(target, body, headers, timeout=ctx.settings.webhook_timeout_seconds)
    except JobTimedOut:  # a receiver that kept the answer coming past the job's time limit
        _record(ctx, delivery, Attempt(at=started, status="failed", error="the receiver answered too slowly"))
        raise
    attempt = Attempt(at=started, status="pending", status_code=answer.status_code, duration_ms=answer.duration_ms)
    verdict = judge(answer.status_code)
    if verdict is Verdict.DELIVERED:
        number = _record(ctx, delivery, msgspec.structs.replace(attempt, status="delivered"))
        return DeliveryResult(
            delivery_id=delivery.id, status="delivered", attempt=number, status_code=answer.status_code
        )
    attempt = msgspec.structs.replace(attempt, error=answer.error or describe(answer.status_code or 0))
    if verdict is Verdict.GONE:
        raise _gone(ctx, delivery, msgspec.structs.replace(attempt, status="failed"))
    if verdict is Verdict.FAIL:
        raise _failed(ctx, delivery, msgspec.structs.replace(attempt, status="failed"))
    raise _retry(ctx, delivery, attempt, parse_retry_after(answer.retry_after, datetime.now(UTC)))


@operation(EMAIL)
def email(ctx: JobContext, p: DeliveryParams) -> DeliveryResult:
    """Send one e-mail delivery (text and HTML) through CONVEYOR_SMTP_URL."""
    delivery = _sendable(ctx, p.delivery_id)
    if isinstance(delivery, DeliveryResult):
        return delivery
    started = datetime.now(UTC)
    if not ctx.settings.smtp_url:
        error = "e-mail is not configured (CONVEYOR_SMTP_URL is empty)"
        raise _failed(ctx, delivery, Attempt(at=started, status="failed", error=error))
    try:
        server = mail.parse_smtp_url(ctx.settings.smtp_url)
    except ValueError as exc:
        raise _failed(ctx, delivery, Attempt(at=started, status="failed", error=str(exc))) from None
    try:
        message = mail.compose(
            notice(delivery, ctx.settings.public_url),
            sender=ctx.settings.smtp_from,
            recipient=delivery.target,
            message_id=f"{delivery.id}",
        )
    except ValueError as exc:  # an address or sender no header can carry
        raise _failed(ctx, delivery, Attempt(at=started, status="failed", error=f"cannot be mailed: {exc}")) from None
    clock = datetime.now(UTC)
    try:
        mail.send(server, message)
    except mail.MailError as exc:
        attempt = Attempt(at=started, status="pending", error=str(exc), duration_ms=_ms_since(clock))
        if exc.permanent:
            raise _failed(ctx, delivery, msgspec.structs.replace(attempt, status="failed")) from None
        raise _retry(ctx, delivery, attempt, None) from None
    number = _record(ctx, delivery, Attempt(at=started, status="delivered", duration_ms=_ms_since(clock)))
    return DeliveryResult(delivery_id=delivery.id, status="delivered", attempt=number)


# -- what a delivery says ---------------------------------------------------------------------


def _data(delivery: Delivery) -> Any:
    """A webhook's `data`: the event's, or for a ping what names the subscription."""
    if delivery.event_data is not None:
        return delivery.event_data
    return {"subscription_id": delivery.subscription_id, "description": delivery.subscription_description or ""}


def notice(delivery: Delivery, public_url: str) -> mail.Notice:
    """What an e-mail tells of a delivery's event, with a link to the job or workflow."""
    base = public_url.rstrip("/")
    data = delivery.event_data or {}
    if delivery.is_ping:
        link = f"{base}/v1/subscriptions/{delivery.subscription_id}"
        body = "A test message: e-mail notices of this subscription reach this address."
        return mail.Notice("Conveyor test notice", body, delivery.event_type, link)
    if delivery.event_workflow_id is not None and delivery.event_type.startswith("workflow."):
        link = f"{base}/v1/workflows/{delivery.event_workflow_id}"
    else:
        link = f"{base}/v1/jobs/{delivery.event_job_id}"
    error = data.get("error") if isinstance(data.get("error"), dict) else None
    operation = f"{data['engine']}.{data['operation']}" if "engine" in data and "operation" in data else None
    return mail.Notice(
        delivery.title, delivery.body, delivery.event_type, link,
        status=data.get("status"), operation=operation or data.get("name"),
        error=str(error.get("message")) if error else None,
    )  # fmt: skip


# -- recording attempts -----------------------------------------------------------------------


def _sendable(ctx: JobContext, delivery_id: uuid.UUID) -> Delivery | DeliveryResult:
    """The pending delivery to send; what it already is when it is gone or settled. A delivery
    of a disabled subscription fails (PermanentError) without being sent."""
    delivery = ctx.database(lambda pool: deliveries.get(pool, delivery_id))
    if delivery is None or delivery.status != "pending":
        return DeliveryResult(delivery_id=delivery_id, status="gone" if delivery is None else delivery.status)
    if delivery.subscription_disabled_at is not None:
        at = datetime.now(UTC)
        raise _failed(ctx, delivery, Attempt(at=at, status="failed", error="the subscription is disabled"))
    return delivery


def _record(ctx: JobContext, delivery: Delivery, attempt: Attempt) -> int | None:
    number = ctx.database(lambda pool: deliveries.record_attempt(pool, delivery.id, attempt))
    ctx.logger.info(
        "delivery_attempted", delivery_id=str(delivery.id), channel=delivery.channel, attempt=number,
        status=attempt.status, status_code=attempt.status_code, error=attempt.error,
    )  # fmt: skip
    return number


def _failed(ctx: JobContext, delivery: Delivery, attempt: Attempt) -> PermanentError:
    """Record the attempt that failed the delivery; the error that fails its job."""
    _record(ctx, delivery, attempt)
    return PermanentError(f"delivery {delivery.id} failed: {attempt.error}")


def _gone(ctx: JobContext, delivery: Delivery, attempt: Attempt) -> PermanentError:
    """A 410: the delivery failed and its subscription is disabled, telling the tenant."""
    reason = f"{delivery.target} answered 410 Gone"
    body = f"{reason}, so the webhook subscription {delivery.subscription_id} was disabled: no more events go to it."
    number = ctx.database(lambda pool: deliveries.record_gone(pool, delivery, attempt, reason=reason, notice=body))
    ctx.logger.info(
        "delivery_attempted", delivery_id=str(delivery.id), channel=delivery.channel, attempt=number,
        status=attempt.status, status_code=attempt.status_code, subscription_disabled=True,
    )  # fmt: skip
    return PermanentError(f"delivery {delivery.id} failed: {attempt.error}; the subscription is disabled")


def _retry(ctx: JobContext, delivery: Delivery, attempt: Attempt, retry_after: float | None) -> JobError:
    """Record a failed attempt worth another; fail the delivery when the schedule is exhausted."""
    delay = scheduled_delay(ctx.tries, ctx.settings.webhook_retry_delays(), retry_after=retry_after)
    if delay is None:
        tries = f"{ctx.tries} attempt{'s' if ctx.tries != 1 else ''}"
        exhausted = f"{attempt.error} ({tries}, no retries left)"
        return _failed(ctx, delivery, msgspec.structs.replace(attempt, status="failed", error=exhausted))
    _record(ctx, delivery, attempt)
    return TransientError(f"delivery {delivery.id}: {attempt.error}", retry_in=delay)


def _ms_since(start: datetime) -> float:
    return round((datetime.now(UTC) - start).total_seconds() * 1000, 3)
