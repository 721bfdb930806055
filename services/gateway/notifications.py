"""/v1/notifications: the tenant's inbox, fed by inbox subscriptions and `notify`."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import notifications
from infra.keys import Principal
from schemas.ids import encode_cursor
from schemas.keys import Scope
from schemas.notifications import NotificationPage, NotificationView, ReadAllView, UnreadCount
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.gateway.paging import Cursor, after_cursor

NotificationId = Annotated[uuid.UUID, Parameter(description="The notice's id")]


class NotificationController(Controller):
    """The inbox of the caller's tenant."""

    path = "/v1/notifications"
    tags = ["notifications"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="The inbox, newest first")
    async def list_notifications(
        self,
        resources: Resources,
        principal: Principal,
        unread: Annotated[bool, Parameter(description="only unread notices")] = False,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> NotificationPage:
        """A page of notices and the inbox's unread count; pass `next_cursor` back as `cursor`."""
        after = after_cursor(cursor)
        tenant = principal.tenant
        items = await notifications.list_notifications(
            resources.pool, tenant, unread=unread, after=after, limit=limit + 1
        )
        return NotificationPage(
            items=items[:limit],
            next_cursor=encode_cursor(items[limit - 1].id) if len(items) > limit else None,
            unread_count=await notifications.unread_count(resources.pool, tenant),
        )

    @get("/unread-count", guards=[requires(Scope.JOBS_READ)], summary="How many notices are unread")
    async def unread_count(self, resources: Resources, principal: Principal) -> UnreadCount:
        """The inbox's unread count."""
        return UnreadCount(unread_count=await notifications.unread_count(resources.pool, principal.tenant))

    @post(
        "/{notification_id:uuid}/read",
        guards=[requires(Scope.JOBS_READ)],
        summary="Mark a notice read",
        status_code=200,
    )
    async def read(
        self, notification_id: NotificationId, resources: Resources, principal: Principal
    ) -> NotificationView:
        """The notice, read; marking it again keeps the time it was first read."""
        view = await notifications.mark_read(resources.pool, principal.tenant, notification_id)
        if view is None:
            raise ApiError(404, "notification_not_found", f"no notification {notification_id}")
        return view

    @post("/read-all", guards=[requires(Scope.JOBS_READ)], summary="Mark every notice read", status_code=200)
    async def read_all(
        self,
        resources: Resources,
        principal: Principal,
        up_to: Annotated[
            uuid.UUID | None, Parameter(description="mark only this notice and older ones (what the reader saw)")
        ] = None,
    ) -> ReadAllView:
        """How many notices it marked read, and how many stay unread (newer than `up_to`)."""
        marked = await notifications.mark_all_read(resources.pool, principal.tenant, up_to=up_to)
        return ReadAllView(
            marked=marked, unread_count=await notifications.unread_count(resources.pool, principal.tenant)
        )
