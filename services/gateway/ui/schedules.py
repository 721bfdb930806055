"""/ui/schedules: every schedule with its next fire times, and Enable/Disable as PATCH
/v1/schedules/{id} does it (the same checks, re-timed from now)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template

from infra import schedules
from infra.schedules import to_view
from schemas.ids import encode_cursor
from schemas.keys import Scope
from schemas.schedules import CronError, SchedulePatch, ScheduleView, cron_trigger, next_fire_time
from services.gateway.deps import Resources
from services.gateway.paging import after_cursor
from services.gateway.schedules import not_found, patched
from services.gateway.ui.listing import Paging, provide_paging
from services.gateway.ui.render import back_to, page
from services.gateway.ui.session import Ui, checked_form
from services.submit import SubmitError

#: How many fire times each schedule shows.
FIRE_TIMES = 3


def fire_times(schedule: ScheduleView, count: int = FIRE_TIMES) -> list[datetime]:
    """The schedule's next fire times, from its stored `next_run_at` (none while disabled)."""
    if not schedule.enabled or schedule.next_run_at is None:
        return []
    times = [schedule.next_run_at]
    try:
        trigger = cron_trigger(schedule.cron, schedule.timezone)
    except CronError:
        return times
    while len(times) < count and (fire := next_fire_time(trigger, times[-1])) is not None:
        times.append(fire)
    return times


class SchedulePages(Controller):
    """The schedules list and its Enable/Disable actions."""

    path = "/ui/schedules"
    dependencies = {"paging": Provide(provide_paging, sync_to_thread=False)}

    @get("/", name="ui-schedules")
    async def list_page(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, paging: Paging
    ) -> Template:
        """A page of schedules, newest first, each with its next fire times."""
        return page(request, "schedules.html", ui, **await self._context(resources, ui, paging))

    @get("/rows")
    async def rows(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, paging: Paging) -> Template:
        """The table of that page alone (live updates)."""
        return page(request, "fragments/schedule_rows.html", ui, **await self._context(resources, ui, paging))

    async def _context(self, resources: Resources, ui: Ui, paging: Paging) -> dict[str, Any]:
        ui.require(Scope.JOBS_READ)
        size = paging.limit
        rows = await schedules.list_schedules(
            resources.pool, ui.principal.tenant, after=after_cursor(paging.cursor), limit=size + 1
        )
        items = [to_view(row) for row in rows[:size]]
        return {
            "schedules": [(item, fire_times(item)) for item in items],
            "next_cursor": encode_cursor(items[-1].id) if len(rows) > size else None,
            "cursor": paging.cursor,
            "filters": paging.params(),
            "now": datetime.now(UTC),
        }

    @post("/{schedule_id:uuid}/enable", status_code=303)
    async def enable(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, schedule_id: uuid.UUID
    ) -> Redirect:
        """Turn the schedule on, timed afresh from now."""
        return await self._set_enabled(request, resources, ui, schedule_id, enabled=True)

    @post("/{schedule_id:uuid}/disable", status_code=303)
    async def disable(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, schedule_id: uuid.UUID
    ) -> Redirect:
        """Turn the schedule off: it fires no more until enabled."""
        return await self._set_enabled(request, resources, ui, schedule_id, enabled=False)

    async def _set_enabled(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, schedule_id: uuid.UUID, *, enabled: bool
    ) -> Redirect:
        form = await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        back = str(form.get("back") or "/ui/schedules")
        async with resources.pool.acquire() as conn, conn.transaction():
            row = await schedules.lock_schedule(conn, ui.principal.tenant, schedule_id)
            if row is None:
                raise not_found(schedule_id)
            try:
                change = patched(row, SchedulePatch(enabled=enabled), resources)
            except SubmitError as exc:
                return back_to(request, back, "; ".join(f"{e.field}: {e.message}" for e in exc.errors))
            await schedules.update_schedule(conn, ui.principal.tenant, schedule_id, change)
        what = "enabled, next fire time counted from now" if enabled else "disabled: it fires no more until enabled"
        return back_to(request, back, f"schedule {row['name']} {what}")
