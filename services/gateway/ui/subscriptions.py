"""/ui/subscriptions: the tenant's subscriptions, one subscription's deliveries with the status
code of every attempt, and Redeliver as POST …/deliveries/{id}/redeliver does it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, get_args

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template

from infra import subscriptions
from infra.subscriptions import to_view
from schemas.ids import encode_cursor
from schemas.keys import Scope
from schemas.subscriptions import DeliveryStatus
from services.gateway.deps import Resources
from services.gateway.paging import after_cursor
from services.gateway.subscriptions import disabled, not_found
from services.gateway.ui.filters import invalid, texts
from services.gateway.ui.listing import Paging, provide_paging, read_paging
from services.gateway.ui.render import back_to, page
from services.gateway.ui.session import Ui, checked_form

STATUSES: tuple[str, ...] = get_args(DeliveryStatus)


@dataclass(frozen=True)
class DeliveryQuery:
    """The deliveries list's `status` filter and page, as GET …/deliveries takes them."""

    statuses: list[str]
    paging: Paging


def provide_delivery_query(
    request: Request[Any, Any, Any],
    status: list[str] | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> DeliveryQuery:
    """The deliveries list's query string (the parameters declare it to the router); 422 naming
    `status` for an unknown status."""
    chosen = texts(request.query_params, "status")
    if any(status not in STATUSES for status in chosen):
        raise invalid("status", f"must be one of {', '.join(STATUSES)}")
    return DeliveryQuery(chosen, read_paging(request))


class SubscriptionPages(Controller):
    """The subscriptions list and a subscription's deliveries."""

    path = "/ui/subscriptions"
    dependencies = {
        "paging": Provide(provide_paging, sync_to_thread=False),
        "where": Provide(provide_delivery_query, sync_to_thread=False),
    }

    @get("/", name="ui-subscriptions")
    async def list_page(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, paging: Paging
    ) -> Template:
        """A page of subscriptions, newest first."""
        ui.require(Scope.JOBS_READ)
        size = paging.limit
        rows = await subscriptions.list_subscriptions(
            resources.pool, ui.principal.tenant, after=after_cursor(paging.cursor), limit=size + 1
        )
        items = [to_view(row) for row in rows[:size]]
        return page(
            request,
            "subscriptions_list.html",
            ui,
            subscriptions=items,
            next_cursor=encode_cursor(items[-1].id) if len(rows) > size else None,
            cursor=paging.cursor,
            filters=paging.params(),
        )

    @get("/{subscription_id:uuid}")
    async def detail_page(
        self,
        request: Request[Any, Any, Any],
        resources: Resources,
        ui: Ui,
        subscription_id: uuid.UUID,
        where: DeliveryQuery,
    ) -> Template:
        """A subscription and a page of its deliveries (filtered by `status` as the API does)."""
        context = await self._deliveries(resources, ui, subscription_id, where)
        return page(request, "subscriptions_detail.html", ui, **context)

    @get("/{subscription_id:uuid}/deliveries")
    async def deliveries_fragment(
        self,
        request: Request[Any, Any, Any],
        resources: Resources,
        ui: Ui,
        subscription_id: uuid.UUID,
        where: DeliveryQuery,
    ) -> Template:
        """The deliveries table alone (live updates)."""
        context = await self._deliveries(resources, ui, subscription_id, where)
        return page(request, "fragments/subscription_deliveries.html", ui, **context)

    @post("/{subscription_id:uuid}/deliveries/{delivery_id:uuid}/redeliver", status_code=303)
    async def redeliver(
        self,
        request: Request[Any, Any, Any],
        resources: Resources,
        ui: Ui,
        subscription_id: uuid.UUID,
        delivery_id: uuid.UUID,
    ) -> Redirect:
        """Send a finished delivery again under its id; back with what happened, in the API's words."""
        form = await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        back, tenant = str(form.get("back") or f"/ui/subscriptions/{subscription_id}"), ui.principal.tenant
        if await subscriptions.redeliver(resources.pool, tenant, subscription_id, delivery_id):
            return back_to(request, back, f"delivery {str(delivery_id)[:8]} is pending again, sent by a new job")
        row = await subscriptions.get_subscription(resources.pool, tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        if row["disabled_at"] is not None:
            return back_to(request, back, disabled(subscription_id).detail)
        if await subscriptions.get_delivery(resources.pool, tenant, subscription_id, delivery_id) is None:
            return back_to(request, back, f"no delivery {delivery_id} of subscription {subscription_id}")
        return back_to(request, back, f"delivery {delivery_id} is still pending: it is sent (or retried) already")

    async def _deliveries(
        self, resources: Resources, ui: Ui, subscription_id: uuid.UUID, where: DeliveryQuery
    ) -> dict[str, Any]:
        ui.require(Scope.JOBS_READ)
        statuses, cursor, size = where.statuses, where.paging.cursor, where.paging.limit
        row = await subscriptions.get_subscription(resources.pool, ui.principal.tenant, subscription_id)
        if row is None:
            raise not_found(subscription_id)
        items = await subscriptions.list_deliveries(
            resources.pool,
            ui.principal.tenant,
            subscription_id,
            statuses=statuses or None,
            after=after_cursor(cursor),
            limit=size + 1,
        )
        return {
            "subscription": to_view(row),
            "deliveries": items[:size],
            "next_cursor": encode_cursor(items[size - 1].id) if len(items) > size else None,
            "cursor": cursor,
            "filters": {"status": statuses, **where.paging.params()},
            "statuses": STATUSES,
        }
