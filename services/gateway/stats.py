"""/v1/stats: what jobs did over a window, per queue, operation or tenant, and as a timeseries.

Read from the rollups the jobs triggers keep (infra/stats.py), never from `jobs`. A key sees
its own tenant; an admin key sees every tenant, or the one `?tenant=` names.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.params import Parameter

from infra import stats
from infra.keys import Principal
from schemas.errors import FieldError
from schemas.keys import Scope
from schemas.stats import STEPS, WINDOWS, StatsView, TimeseriesView, step_error, window_start
from services.gateway.auth import requires, tenant_scope
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.gateway.paging import text_filters

GROUPS = ("queue", "operation", "tenant")
Window = Annotated[str, Parameter(description="5m, 1h, 24h or 7d", schema_extra={"enum": list(WINDOWS)})]
GroupBy = Annotated[str, Parameter(description="queue, operation or tenant", schema_extra={"enum": list(GROUPS)})]
Step = Annotated[
    str, Parameter(description="1m, 5m, 1h or 1d (at most 1,000 steps)", schema_extra={"enum": list(STEPS)})
]


def invalid(field: str, message: str) -> ApiError:
    """422 naming the query parameter at fault."""
    return ApiError(422, "invalid_request", f"{field}: {message}", [FieldError(field, message)])


def choice(field: str, value: str, allowed: Collection[str]) -> str:
    """`value` if it is one of `allowed`; 422 naming `field` otherwise."""
    if value not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)}")
    return value


class StatsController(Controller):
    """Job stats of the caller's tenant (an admin's: of any tenant, or all)."""

    path = "/v1/stats"
    tags = ["stats"]
    guards = [requires(Scope.JOBS_READ)]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", summary="What jobs did over a window, per group")
    async def summary(
        self,
        resources: Resources,
        principal: Principal,
        window: Window = "1h",
        group_by: GroupBy = "queue",
        tenant: Annotated[str | None, Parameter(description="A tenant (admin keys only, for another)")] = None,
    ) -> StatsView:
        """Counts, success rate, throughput, run and wait time percentiles and backlog per group.

        Windows of 24h and 7d start at the top of the hour (5m and 1h: of the minute).
        """
        text_filters(tenant=tenant)
        choice("window", window, WINDOWS)
        choice("group_by", group_by, GROUPS)
        scope = tenant_scope(principal, tenant)
        now = datetime.now(UTC)
        items = await stats.window_stats(resources.pool, now, window, group_by, scope)
        return StatsView(
            window=window,  # type: ignore[arg-type]
            group_by=group_by,  # type: ignore[arg-type]
            start=window_start(now, window),
            end=now,
            items=items,
        )

    @get("/timeseries", summary="Counts and p95 run time per step, for charts")
    async def timeseries(
        self,
        resources: Resources,
        principal: Principal,
        window: Window = "1h",
        step: Step = "1m",
        queue: Annotated[str | None, Parameter(description="Only this queue (engine)")] = None,
        operation: Annotated[str | None, Parameter(description="Only this operation")] = None,
        tenant: Annotated[str | None, Parameter(description="A tenant (admin keys only, for another)")] = None,
    ) -> TimeseriesView:
        """One bucket per step, oldest first, the last one holding now; empty steps count zeros."""
        text_filters(queue=queue, operation=operation, tenant=tenant)
        choice("window", window, WINDOWS)
        choice("step", step, STEPS)
        if (error := step_error(window, step)) is not None:
            raise invalid("step", error)
        scope = tenant_scope(principal, tenant)
        buckets = await stats.timeseries(
            resources.pool,
            datetime.now(UTC),
            window,
            step,
            tenant=scope,
            engine=queue or None,
            operation=operation or None,
        )
        return TimeseriesView(
            window=window,  # type: ignore[arg-type]
            step=step,  # type: ignore[arg-type]
            queue=queue,
            operation=operation,
            buckets=buckets,
        )
