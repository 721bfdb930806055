"""/v1/schedules: cron schedules that submit a job at every fire time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import schedules
from infra.keys import Principal
from infra.schedules import NewSchedule, to_view
from schemas.errors import FieldError, nul_errors
from schemas.ids import encode_cursor
from schemas.jobs import JobSubmit
from schemas.keys import Scope
from schemas.schedules import CronError, SchedulePage, SchedulePatch, ScheduleSubmit, ScheduleView, first_fire_time
from services.admission import check_notify_webhooks
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.gateway.paging import Cursor, after_cursor
from services.submit import SubmitError, build_job
from services.templates import apply_templates

ScheduleId = Annotated[uuid.UUID, Parameter(description="The schedule's id")]

#: Job fields a schedule owns: it decides when its jobs run, and tells them apart by fire time.
SCHEDULE_OWNED = {
    "run_at": "a schedule decides when its jobs run; leave run_at out",
    "delay_seconds": "a schedule decides when its jobs run; leave delay_seconds out",
    "idempotency_key": "a schedule's jobs are told apart by their fire time; leave idempotency_key out",
}


def not_found(schedule_id: uuid.UUID) -> ApiError:
    """The answer for a schedule the tenant does not have."""
    return ApiError(404, "schedule_not_found", f"no schedule {schedule_id}")


def job_errors(job: JobSubmit, resources: Resources) -> list[FieldError]:
    """What keeps a schedule's job body from being submitted at its fire times."""
    errors = [FieldError(f"job.{name}", why) for name, why in SCHEDULE_OWNED.items() if getattr(job, name) is not None]
    if job.depends_on:
        errors.append(FieldError("job.depends_on", "a schedule's jobs run at their fire times; they wait for no job"))
    try:
        build_job(job, resources.registry, resources.settings, at="job")
    except SubmitError as exc:
        errors += exc.errors
    return errors


def checked(submit: ScheduleSubmit, resources: Resources) -> NewSchedule:
    """A schedule whose cron, time zone and job all fit, timed from now (untimed while disabled);
    SubmitError naming every field at fault."""
    errors = job_errors(submit.job, resources) + nul_errors({"name": submit.name})
    try:
        fire = first_fire_time(submit.cron, submit.timezone, datetime.now(UTC))
    except CronError as exc:
        errors = exc.errors + errors
    if errors:
        raise SubmitError(errors, code="invalid_schedule")
    return NewSchedule(
        name=submit.name,
        cron=submit.cron,
        timezone=submit.timezone,
        job=msgspec.to_builtins(submit.job),
        enabled=submit.enabled,
        next_run_at=fire if submit.enabled else None,
    )


def patched(row: asyncpg.Record, change: SchedulePatch, resources: Resources) -> NewSchedule:
    """A stored schedule with a change applied; timed afresh from now only if its cron, time
    zone or enabled changed (so missed fire times are not replayed after a re-timing)."""
    current = msgspec.convert({name: row[name] for name in ScheduleSubmit.__struct_fields__}, ScheduleSubmit)
    given = {name: value for name in change.__struct_fields__ if (value := getattr(change, name)) is not None}
    updated = msgspec.structs.replace(current, **given)
    new = checked(updated, resources)
    if (updated.cron, updated.timezone, updated.enabled) == (current.cron, current.timezone, current.enabled):
        new.next_run_at = row["next_run_at"]
    return new


class ScheduleController(Controller):
    """Cron schedules of the caller's tenant."""

    path = "/v1/schedules"
    tags = ["schedules"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/", guards=[requires(Scope.JOBS_WRITE)], summary="Create a schedule", status_code=201)
    async def create(
        self, data: ScheduleSubmit, request: Request[Any, Any, Any], resources: Resources, principal: Principal
    ) -> Response[ScheduleView]:
        """201 with the schedule and its first fire time (`next_run_at`). A job body naming a
        template is made from it now; the schedule keeps the result (and the version's name)."""
        if data.job.template is not None:
            sent = (await request.json())["job"]
            [data.job] = await apply_templates(resources.pool, principal.tenant, [("job", data.job, sent)])
        new = checked(data, resources)
        await check_notify_webhooks([("job.notify", data.job.notify)], resources.settings)
        row = await schedules.create_schedule(resources.pool, principal.tenant, new)
        view = to_view(row)
        return Response(view, status_code=201, headers={"Location": f"{self.path}/{view.id}"})

    @get("/{schedule_id:uuid}", guards=[requires(Scope.JOBS_READ)], summary="Get a schedule")
    async def get_schedule(self, schedule_id: ScheduleId, resources: Resources, principal: Principal) -> ScheduleView:
        """A schedule with its next fire time, and when it last ran which job."""
        row = await schedules.get_schedule(resources.pool, principal.tenant, schedule_id)
        if row is None:
            raise not_found(schedule_id)
        return to_view(row)

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="List schedules, newest first")
    async def list_schedules(
        self,
        resources: Resources,
        principal: Principal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> SchedulePage:
        """A page of schedules; pass `next_cursor` back as `cursor` for the next one."""
        after = after_cursor(cursor)
        rows = await schedules.list_schedules(resources.pool, principal.tenant, after=after, limit=limit + 1)
        items = [to_view(row) for row in rows[:limit]]
        return SchedulePage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)

    @patch("/{schedule_id:uuid}", guards=[requires(Scope.JOBS_WRITE)], summary="Change a schedule")
    async def update(
        self,
        schedule_id: ScheduleId,
        data: SchedulePatch,
        request: Request[Any, Any, Any],
        resources: Resources,
        principal: Principal,
    ) -> ScheduleView:
        """The schedule after the change; a new cron, time zone or `enabled` times it afresh from now."""
        if data.job is not None and data.job.template is not None:
            sent = (await request.json())["job"]
            [data.job] = await apply_templates(resources.pool, principal.tenant, [("job", data.job, sent)])
        if data.job is not None:
            await check_notify_webhooks([("job.notify", data.job.notify)], resources.settings)
        async with resources.pool.acquire() as conn, conn.transaction():
            row = await schedules.lock_schedule(conn, principal.tenant, schedule_id)
            if row is None:
                raise not_found(schedule_id)
            row = await schedules.update_schedule(conn, principal.tenant, schedule_id, patched(row, data, resources))
        assert row is not None  # locked above
        return to_view(row)

    @delete("/{schedule_id:uuid}", guards=[requires(Scope.JOBS_WRITE)], summary="Delete a schedule", status_code=204)
    async def remove(self, schedule_id: ScheduleId, resources: Resources, principal: Principal) -> None:
        """204; it fires no more, and the jobs it created stay (still naming it)."""
        if not await schedules.delete_schedule(resources.pool, principal.tenant, schedule_id):
            raise not_found(schedule_id)
