"""`conveyor schedules`: cron schedules that submit a job at every fire time."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.schedules import ScheduleView
from services.cli.common import Context, command, group, json_object


def add_commands(sub: Any) -> None:
    """The `schedules` group."""
    schedules = group(sub, "schedules", "cron schedules that submit jobs", "conveyor schedules list")
    command(schedules, "list", cmd_list, "every schedule, newest first", "conveyor schedules list")
    create = command(
        schedules, "create", cmd_create, "create a schedule; prints its id",
        "SCHEDULE=$(conveyor schedules create digest '0 9 * * 1-5' general echo --params '{\"value\": 1}' \\\n"
        "    --timezone Europe/Paris)",
    )  # fmt: skip
    create.add_argument("name", help="what the schedule is called")
    create.add_argument("cron", help="5 fields (minute hour day month weekday), or 6 with seconds first")
    create.add_argument("engine", help="the engine of its jobs")
    create.add_argument("operation", help="the operation of its jobs")
    create.add_argument("--params", type=json_object, default={}, help="the job's params: a JSON object, or @file")
    create.add_argument("--timezone", default="UTC", help="the IANA time zone the cron is read in")
    create.add_argument("--tag", action="append", default=[], help="a tag of its jobs (repeatable)")
    create.add_argument("--disabled", action="store_true", help="create it disabled")
    for name, handler, text in (
        ("show", cmd_show, "one schedule: its next and last run"),
        ("delete", cmd_delete, "delete a schedule (its jobs stay)"),
        ("enable", cmd_enable, "enable a schedule (timed afresh from now)"),
        ("disable", cmd_disable, "disable a schedule"),
    ):
        one = command(schedules, name, handler, text, f"conveyor schedules {name} $SCHEDULE")
        one.add_argument("schedule_id", type=uuid.UUID, metavar="SCHEDULE_ID")


def show(ctx: Context, schedules: list[ScheduleView]) -> None:
    """Print schedules."""
    rows = [
        (s.id, s.name, s.cron, s.timezone, f"{s.job.engine}.{s.job.operation}", s.enabled, s.next_run_at, s.last_job_id)
        for s in schedules
    ]
    ctx.out.table(["id", "name", "cron", "timezone", "operation", "enabled", "next run", "last job"], rows)


def cmd_list(ctx: Context) -> int:
    """Every schedule."""
    page = ctx.client.list_schedules(limit=500)
    if ctx.out.mode == "json":
        ctx.out.json(page)
    else:
        show(ctx, page.items)
    return 0


def cmd_create(ctx: Context) -> int:
    """Create a schedule."""
    a = ctx.args
    job = {"engine": a.engine, "operation": a.operation, "params": a.params, "tags": a.tag}
    view = ctx.client.create_schedule(
        {"name": a.name, "cron": a.cron, "timezone": a.timezone, "job": job, "enabled": not a.disabled}
    )
    if ctx.out.mode == "json":
        ctx.out.json(view)
    elif ctx.out.rich:
        show(ctx, [view])
    else:
        ctx.out.line(str(view.id))
    return 0


def one(ctx: Context, view: ScheduleView) -> int:
    """Print one schedule."""
    if ctx.out.mode == "json":
        ctx.out.json(view)
    else:
        show(ctx, [view])
    return 0


def cmd_show(ctx: Context) -> int:
    """One schedule."""
    return one(ctx, ctx.client.get_schedule(ctx.args.schedule_id))


def cmd_enable(ctx: Context) -> int:
    """Enable a schedule."""
    return one(ctx, ctx.client.enable_schedule(ctx.args.schedule_id, True))


def cmd_disable(ctx: Context) -> int:
    """Disable a schedule."""
    return one(ctx, ctx.client.enable_schedule(ctx.args.schedule_id, False))


def cmd_delete(ctx: Context) -> int:
    """Delete a schedule."""
    ctx.client.delete_schedule(ctx.args.schedule_id)
    ctx.out.answer({"deleted": str(ctx.args.schedule_id)}, f"{ctx.args.schedule_id} deleted")
    return 0
