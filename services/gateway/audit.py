"""/v1/audit (admin): who did what to the queues and limits, and when."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from infra import controls
from schemas.keys import Scope
from schemas.operations import AuditPage
from services.gateway.auth import requires
from services.gateway.deps import Resources
from services.gateway.paging import after_cursor, text_filters


class AuditController(Controller):
    """The audit log of operators' actions."""

    path = "/v1/audit"
    tags = ["operations"]
    guards = [requires(Scope.ADMIN)]

    @get("/", summary="The audit log, newest first")
    async def list_audit(
        self,
        resources: Resources,
        action: Annotated[str | None, Parameter(description="e.g. queue.pause, queue.limits, limits")] = None,
        target: Annotated[str | None, Parameter(description="A queue, or * for the global limits")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, Parameter(description="next_cursor of the previous page")] = None,
    ) -> AuditPage:
        """Each entry: when, the tenant and key that acted, the action, its target and details."""
        text_filters(action=action, target=target)
        after = after_cursor(cursor)
        entries, next_cursor = await controls.list_audit(
            resources.pool, before=None if after is None else after.int, limit=limit, action=action, target=target
        )
        return AuditPage(items=entries, next_cursor=next_cursor)
