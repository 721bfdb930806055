"""/ui: every queue's figures, the last hour's throughput and failures, and the cluster's health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from infra import stats
from schemas.keys import Scope
from services.gateway.deps import Resources
from services.gateway.ui.charts import throughput_chart
from services.gateway.ui.render import page
from services.gateway.ui.session import Ui
from services.operations import health, queue_views


async def overview_context(resources: Resources, ui: Ui) -> dict[str, Any]:
    """What the overview shows the viewer: queues and health for admin keys (as /v1/queues and
    /v1/health), the tenant's last hour per queue (as /v1/stats) for the others."""
    admin = ui.can(Scope.ADMIN)
    tenant = None if admin else ui.principal.tenant
    now = datetime.now(UTC)
    buckets = await stats.timeseries(resources.pool, now, "1h", "1m", tenant=tenant, engine=None, operation=None)
    context: dict[str, Any] = {"chart": throughput_chart(buckets), "queues": None, "health": None}
    if admin:
        context["queues"] = await queue_views(resources.pool, resources.management, resources.settings)
        context["health"] = await health(
            resources.pool, resources.management, resources.settings, amqp_connected=resources.publisher.ready
        )
    else:
        context["stats"] = await stats.window_stats(resources.pool, now, "1h", "queue", tenant)
    return context


class OverviewPages(Controller):
    """The overview."""

    path = "/ui"

    @get("/", name="ui-overview")
    async def overview(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Template:
        """Is anything wrong? Queues, the last hour, health."""
        return page(request, "overview.html", ui, **await overview_context(resources, ui))

    @get("/fragments/overview")
    async def overview_fragment(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Template:
        """The overview's live part, re-read as events arrive."""
        return page(request, "fragments/overview.html", ui, **await overview_context(resources, ui))
