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
from services.gateway.paging import Cursor, after_cursor, text_filters

#: The largest audit entry id there can be (a PostgreSQL bigint).
LAST_ID = 2**63 - 1


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
        cursor: Cursor = None,
    ) -> AuditPage:
        """Each entry: when, the tenant and key that acted, the action, its target and details."""
        text_filters(action=action, target=target)
        after = after_cursor(cursor)
        entries, next_cursor = await controls.list_audit(
            resources.pool,
            before=None if after is None else min(after.int, LAST_ID),  # ids are bigints: none lies past
            limit=limit,
            action=action,
            target=target,
        )
        return AuditPage(items=entries, next_cursor=next_cursor)
