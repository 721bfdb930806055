"""/ui/queues (admin): every queue's figures; Pause, Resume and limits, as /v1/queues does them."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from infra import controls
from schemas.keys import Scope
from schemas.operations import LimitsUpdate
from services.gateway.deps import Resources
from services.gateway.queues import known_queue, set_limits, who
from services.gateway.ui.filters import invalid
from services.gateway.ui.render import back_to, page
from services.gateway.ui.session import Ui, checked_form
from services.operations import queue_views


def limits_body(form: Any) -> LimitsUpdate:
    """The PUT /v1/queues/{name}/limits body of the limits form (an empty field: no limit)."""
    body: dict[str, Any] = {}
    for name in ("max_concurrency", "max_backlog"):
        value = str(form.get(name) or "").strip()
        if value and not value.isdigit():
            raise invalid(name, "must be a whole number (empty: no limit)")
        body[name] = int(value) if value else None
    try:
        return msgspec.convert(body, LimitsUpdate)
    except msgspec.ValidationError as exc:
        raise invalid("max_concurrency" if "max_concurrency" in str(exc) else "max_backlog", str(exc)) from None


class QueuePages(Controller):
    """Queues and their controls."""

    path = "/ui/queues"

    @get("/", name="ui-queues")
    async def list_queues(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Template:
        """Every queue (admin keys only, as GET /v1/queues)."""
        ui.require(Scope.ADMIN)
        queues = await queue_views(resources.pool, resources.management, resources.settings)
        return page(request, "queues.html", ui, queues=queues)

    @get("/fragments/table")
    async def table(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Template:
        """The queues table, re-read as events arrive."""
        ui.require(Scope.ADMIN)
        queues = await queue_views(resources.pool, resources.management, resources.settings)
        return page(request, "fragments/queues_table.html", ui, queues=queues)

    @post("/{name:str}/pause", status_code=303)
    async def pause(self, request: Request[Any, Any, Any], name: str, resources: Resources, ui: Ui) -> Redirect:
        """No job of the queue starts (within 2 s); running ones finish."""
        return await self._set_paused(request, name, True, resources, ui)

    @post("/{name:str}/resume", status_code=303)
    async def resume(self, request: Request[Any, Any, Any], name: str, resources: Resources, ui: Ui) -> Redirect:
        """The queue's jobs run again."""
        return await self._set_paused(request, name, False, resources, ui)

    @post("/{name:str}/limits", status_code=303)
    async def limits(self, request: Request[Any, Any, Any], name: str, resources: Resources, ui: Ui) -> Redirect:
        """Set the queue's max_concurrency and max_backlog (empty: none)."""
        form = await checked_form(request, ui)
        ui.require(Scope.ADMIN)
        engine = known_queue(resources, name)
        after = await set_limits(resources, ui.principal, engine, limits_body(form), "queue.limits")
        concurrency = "none" if after.max_concurrency is None else after.max_concurrency
        backlog = "none" if after.max_backlog is None else after.max_backlog
        return back_to(request, "/ui/queues", f"{engine}: max_concurrency {concurrency}, max_backlog {backlog}")

    async def _set_paused(
        self, request: Request[Any, Any, Any], name: str, paused: bool, resources: Resources, ui: Ui
    ) -> Redirect:
        await checked_form(request, ui)
        ui.require(Scope.ADMIN)
        engine = known_queue(resources, name)
        principal = ui.principal
        async with resources.pool.acquire() as conn, conn.transaction():
            await controls.set_paused(conn, engine, paused, who=who(principal))
            action = "queue.pause" if paused else "queue.resume"
            await controls.audit(
                conn, tenant=principal.tenant, key_id=principal.key_id, action=action, target=engine, details={}
            )
        return back_to(request, "/ui/queues", f"{engine} {'paused' if paused else 'resumed'}")
