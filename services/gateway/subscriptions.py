"""/v1/subscriptions: webhook, e-mail and inbox subscriptions, their deliveries, and the secret
that signs `notify` webhooks."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import subscriptions
from infra.keys import Principal
from infra.subscriptions import TooManySubscriptions, to_view, url_refusal
from schemas.contracts import Contracts
from schemas.errors import FieldError
from schemas.ids import encode_cursor
from schemas.keys import Scope
from schemas.notifications import NotificationView
from schemas.subscriptions import (
    MAX_SUBSCRIPTIONS,
    CallbackSecretView,
    DeliveryPage,
    DeliveryStatus,
    DeliveryView,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionView,
    subscription_errors,
)
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.gateway.paging import Cursor, after_cursor

SubscriptionId = Annotated[uuid.UUID, Parameter(description="The subscription's id")]
DeliveryId = Annotated[uuid.UUID, Parameter(description="The delivery's id (its webhook-id)")]
Limit = Annotated[int, Parameter(ge=1, le=500)]


def not_found(subscription_id: uuid.UUID) -> ApiError:
    """The answer for a subscription the tenant does not have."""
    return ApiError(404, "subscription_not_found", f"no subscription {subscription_id}")


def operation_errors(operations: list[str], registry: Contracts) -> list[FieldError]:
    """A FieldError for each filter operation (`name` or `engine.name`) no engine has."""
    errors = []
    for index, name in enumerate(operations):
        engine, _, op = name.rpartition(".")
        known = registry.get(engine, op) is not None if engine else any(o.name == op for o in registry.operations())
        if not known:
            errors.append(FieldError(f"filter.operations[{index}]", f"no engine has an operation {name!r}"))
    return errors


async def checked(create: SubscriptionCreate, resources: Resources) -> SubscriptionCreate:
    """The subscription if every field fits; 422 naming each field at fault (a webhook URL the
    address guard refuses: `url`, with the guard's reason)."""
    errors = subscription_errors(create)
    if create.filter is not None:
        errors += operation_errors(create.filter.operations, resources.registry)
    exemptions = resources.settings.webhook_private_exemptions()
    url = create.url if create.channel == "webhook" and not any(e.field == "url" for e in errors) else None
    if url is not None and (why := await url_refusal(url, exemptions)) is not None:
        errors.append(FieldError("url", why))
    if errors:
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        raise ApiError(422, "invalid_subscription", detail, errors)
    return create


class SubscriptionController(Controller):
    """Subscriptions of the caller's tenant."""

    path = "/v1/subscriptions"
    tags = ["subscriptions"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/", guards=[requires(Scope.JOBS_WRITE)], summary="Create a subscription", status_code=201)
    async def create(
        self, data: SubscriptionCreate, resources: Resources, principal: Principal
    ) -> Response[SubscriptionCreated]:
        """201 with the subscription; a webhook's signing `secret` is in this answer only."""
        try:
            view = await subscriptions.create_subscription(
                resources.pool, principal.tenant, await checked(data, resources)
            )
        except TooManySubscriptions:
            message = f"a tenant may have at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first"
            raise ApiError(409, "too_many_subscriptions", message, [FieldError("body", message)]) from None
        return Response(view, status_code=201, headers={"Location": f"{self.path}/{view.id}"})

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="List subscriptions, newest first")
    async def list_subscriptions(
        self, resources: Resources, principal: Principal, limit: Limit = 50, cursor: Cursor = None
    ) -> SubscriptionPage:
        """A page of subscriptions; pass `next_cursor` back as `cursor` for the next one."""
        after = after_cursor(cursor)
        rows = await subscriptions.list_subscriptions(resources.pool, principal.tenant, after=after, limit=limit + 1)
        items = [to_view(row) for row in rows[:limit]]
        return SubscriptionPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)

    @get("/callback-secret", guards=[requires(Scope.JOBS_WRITE)], summary="The secret that signs notify webhooks")
    async def get_callback_secret(self, resources: Resources, principal: Principal) -> CallbackSecretView:
        """The tenant's secret for the webhooks of `notify` on jobs and workflows, made on first request."""
        return await subscriptions.callback_secret(resources.pool, principal.tenant)

    @post(
        "/callback-secret/rotate",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Replace the secret that signs notify webhooks",
        status_code=200,
    )
    async def rotate_callback_secret(self, resources: Resources, principal: Principal) -> CallbackSecretView:
        """A new secret; webhooks sent from now on are signed with it only."""
        return await subscriptions.rotate_callback_secret(resources.pool, principal.tenant)

    @get("/{subscription_id:uuid}", guards=[requires(Scope.JOBS_READ)], summary="Get a subscription")
    async def get_subscription(
        self, subscription_id: SubscriptionId, resources: Resources, principal: Principal
    ) -> SubscriptionView:
        """A subscription (never its secret); `disabled_at` is set once a receiver answered 410."""
        row = await subscriptions.get_subscription(resources.pool, principal.tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        return to_view(row)

    @delete(
        "/{subscription_id:uuid}", guards=[requires(Scope.JOBS_WRITE)], summary="Delete a subscription", status_code=204
    )
    async def remove(self, subscription_id: SubscriptionId, resources: Resources, principal: Principal) -> None:
        """204; its deliveries go with it, and those not yet sent are not sent."""
        if not await subscriptions.delete_subscription(resources.pool, principal.tenant, subscription_id):
            raise not_found(subscription_id)

    @post(
        "/{subscription_id:uuid}/enable",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Enable a disabled subscription",
        status_code=200,
    )
    async def enable(
        self, subscription_id: SubscriptionId, resources: Resources, principal: Principal
    ) -> SubscriptionView:
        """The subscription, hearing events again (those of the time it was disabled are not sent)."""
        row = await subscriptions.enable_subscription(resources.pool, principal.tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        return to_view(row)

    @post(
        "/{subscription_id:uuid}/rotate-secret",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Give a webhook subscription a new signing secret",
        status_code=200,
    )
    async def rotate_secret(
        self, subscription_id: SubscriptionId, resources: Resources, principal: Principal
    ) -> SubscriptionCreated:
        """The subscription with its new `secret`, shown this once; the old one signs no more."""
        rotated = await subscriptions.rotate_secret(resources.pool, principal.tenant, subscription_id)
        if rotated is not None:
            return rotated
        row = await subscriptions.get_subscription(resources.pool, principal.tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        message = f"a {row['channel']} subscription has no secret; only webhooks are signed"
        raise ApiError(409, "not_a_webhook", message, [FieldError("subscription_id", message)])

    @post(
        "/{subscription_id:uuid}/test",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Send a test (ping) to a subscription",
        status_code=202,
    )
    async def test(
        self, subscription_id: SubscriptionId, resources: Resources, principal: Principal
    ) -> DeliveryView | NotificationView:
        """202 with the queued `ping` delivery (webhook, e-mail: event_type `ping`, event_id null),
        or, for an inbox subscription, the test notice it wrote."""
        row = await subscriptions.get_subscription(resources.pool, principal.tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        if row["disabled_at"] is not None:
            raise disabled(subscription_id)
        return await subscriptions.ping(resources.pool, principal.tenant, row)

    @get(
        "/{subscription_id:uuid}/deliveries",
        guards=[requires(Scope.JOBS_READ)],
        summary="A subscription's deliveries, newest first",
    )
    async def list_deliveries(
        self,
        subscription_id: SubscriptionId,
        resources: Resources,
        principal: Principal,
        status: Annotated[list[DeliveryStatus] | None, Parameter(description="only these statuses")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        """A page of deliveries, each with its attempts (time, status code or error, duration)."""
        after = after_cursor(cursor)
        if await subscriptions.get_subscription(resources.pool, principal.tenant, subscription_id) is None:
            raise not_found(subscription_id)
        items = await subscriptions.list_deliveries(
            resources.pool, principal.tenant, subscription_id, statuses=status, after=after, limit=limit + 1
        )
        cursor_out = encode_cursor(items[limit - 1].id) if len(items) > limit else None
        return DeliveryPage(items=items[:limit], next_cursor=cursor_out)

    @post(
        "/{subscription_id:uuid}/deliveries/{delivery_id:uuid}/redeliver",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Send a delivery again",
        status_code=202,
    )
    async def redeliver(
        self, subscription_id: SubscriptionId, delivery_id: DeliveryId, resources: Resources, principal: Principal
    ) -> DeliveryView:
        """202 with the delivery, pending again under the same id (receivers deduplicate on it),
        sent by a new job; 409 while it is still pending or its subscription is disabled."""
        tenant = principal.tenant
        if await subscriptions.redeliver(resources.pool, tenant, subscription_id, delivery_id):
            delivery = await subscriptions.get_delivery(resources.pool, tenant, subscription_id, delivery_id)
            assert delivery is not None  # changed just now
            return delivery
        row = await subscriptions.get_subscription(resources.pool, tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        if row["disabled_at"] is not None:
            raise disabled(subscription_id)
        if await subscriptions.get_delivery(resources.pool, tenant, subscription_id, delivery_id) is None:
            raise ApiError(404, "delivery_not_found", f"no delivery {delivery_id} of subscription {subscription_id}")
        message = "is still pending: it is sent (or retried) already"
        raise ApiError(
            409, "delivery_pending", f"delivery {delivery_id} {message}", [FieldError("delivery_id", message)]
        )


def disabled(subscription_id: uuid.UUID) -> ApiError:
    """The answer for sending through a disabled subscription."""
    message = "is disabled; enable it first (POST …/enable)"
    return ApiError(
        409,
        "subscription_disabled",
        f"subscription {subscription_id} {message}",
        [FieldError("subscription_id", message)],
    )
