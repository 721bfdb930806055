"""`conveyor jobs`: submit, list, show, watch, cancel, retry and delete a job, and read its history."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from schemas.jobs import JobStatus, JobView
from services.cli.common import Context, command, group, json_object
from services.cli.watch import watch_job


def priority(text: str) -> int | str:
    """A priority: 0–9 (higher runs first) or low, normal, high, critical."""
    if text.isdigit():
        return int(text)
    if text in ("low", "normal", "high", "critical"):
        return text
    raise argparse.ArgumentTypeError("0–9, or low, normal, high or critical")


def add_commands(sub: Any) -> None:
    """The `jobs` group."""
    jobs = group(sub, "jobs", "submit, follow and steer jobs", "conveyor jobs list --status running")
    submit = command(
        jobs, "submit", cmd_submit, "submit a job; prints its id",
        "JOB=$(conveyor jobs submit general sleep --params '{\"seconds\": 5}' --priority high --tag demo)",
    )  # fmt: skip
    submit.add_argument("engine", help="the engine (GET /v1/engines lists them)")
    submit.add_argument("operation", help="the engine's operation")
    submit.add_argument("--params", type=json_object, default={}, help="the params: a JSON object, or @file")
    submit.add_argument("--priority", type=priority, help="0–9 or low, normal, high, critical (server default: normal)")
    submit.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    submit.add_argument("--delay", type=float, metavar="SECONDS", help="run it this many seconds from now")
    submit.add_argument("--idempotency-key", metavar="KEY", help="the same key again gives the same job")
    listing = command(
        jobs, "list", cmd_list, "list jobs, newest first", "conveyor jobs list --status failed --tag demo"
    )
    listing.add_argument(
        "--status", action="append", choices=[s.value for s in JobStatus], default=[], help="repeatable"
    )
    listing.add_argument("--engine")
    listing.add_argument("--operation")
    listing.add_argument("--tag", action="append", default=[], help="jobs carrying every tag given (repeatable)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1–500)")
    listing.add_argument("--cursor", help="the next_cursor of the previous page (see --json)")
    for name, handler, text in (
        ("show", cmd_show, "show a job: status, progress, result or error"),
        ("watch", cmd_watch, "follow a job live until it ends; exit 0 succeeded, 1 failed, 2 cancelled"),
        ("cancel", cmd_cancel, "cancel a job (its worker stops it if it runs)"),
        ("retry", cmd_retry, "run a failed or cancelled job again"),
        ("events", cmd_events, "a job's history, oldest first"),
        ("delete", cmd_delete, "delete a finished job with its events and artifacts"),
    ):
        one = command(jobs, name, handler, text, f"conveyor jobs {name} $JOB")
        one.add_argument("job_id", type=uuid.UUID, metavar="JOB_ID")


def cmd_submit(ctx: Context) -> int:
    """Submit a job; print its id."""
    args = ctx.args
    options: dict[str, Any] = {"tags": args.tag}
    if args.priority is not None:
        options["priority"] = args.priority
    if args.delay is not None:
        options["delay_seconds"] = args.delay
    job = ctx.client.submit(args.engine, args.operation, args.params, idempotency_key=args.idempotency_key, **options)
    if ctx.out.mode == "json":
        ctx.out.json(job)
    elif ctx.out.rich:
        ctx.out.line(f"{job.id}  {job.status}  {job.engine}.{job.operation}", "bold")
    else:
        ctx.out.line(str(job.id))
    return 0


def cmd_list(ctx: Context) -> int:
    """List jobs."""
    a = ctx.args
    page = ctx.client.list_jobs(
        status=a.status, engine=a.engine, operation=a.operation, tag=a.tag, limit=a.limit, cursor=a.cursor
    )
    if ctx.out.mode == "json":
        ctx.out.json(page)
        return 0
    rows = [(j.id, f"{j.engine}.{j.operation}", status_cell(j), j.created_at, j.tags) for j in page.items]
    ctx.out.table(["id", "operation", "status", "created", "tags"], rows)
    if page.next_cursor and ctx.out.rich:
        ctx.out.line(f"more: --cursor {page.next_cursor}", "dim")
    return 0


def status_cell(job: JobView) -> str:
    """A job's status, with its progress while it runs."""
    return f"{job.status} {job.progress:.0%}" if job.status == "running" else str(job.status)


def show_job(ctx: Context, job: JobView) -> None:
    """Print a job's view."""
    if ctx.out.mode == "json":
        ctx.out.json(job)
        return
    pairs: list[tuple[str, Any]] = [
        ("id", job.id),
        ("operation", f"{job.engine}.{job.operation}"),
        ("status", job.status),
        ("progress", f"{job.progress:.0%}" + (f" {job.progress_message}" if job.progress_message else "")),
        ("priority", job.priority),
        ("attempts", f"{job.attempts} (max retries {job.max_retries})"),
        ("tags", job.tags),
        ("created", job.created_at),
        ("started", job.started_at),
        ("finished", job.finished_at),
    ]
    if job.waiting_reason:
        pairs.append(("waiting", job.waiting_reason))
    if job.workflow_id:
        pairs.append(("workflow", f"{job.workflow_id} node {job.node_key}"))
    pairs.append(("params", job.params))
    pairs.append(("result", job.result) if job.error is None else ("error", f"{job.error.type}: {job.error.message}"))
    ctx.out.fields(pairs)


def cmd_show(ctx: Context) -> int:
    """Show a job."""
    show_job(ctx, ctx.client.get_job(ctx.args.job_id))
    return 0


def cmd_watch(ctx: Context) -> int:
    """Follow a job until it ends."""
    return watch_job(ctx, ctx.args.job_id)


def cmd_cancel(ctx: Context) -> int:
    """Cancel a job."""
    job = ctx.client.cancel_job(ctx.args.job_id)
    state = "cancel requested (its worker stops it)" if job.status == "running" else job.status
    ctx.out.answer(job, f"{job.id} {state}")
    return 0


def cmd_retry(ctx: Context) -> int:
    """Retry a job."""
    job = ctx.client.retry_job(ctx.args.job_id)
    ctx.out.answer(job, f"{job.id} {job.status} (attempt {job.attempts + 1} next)")
    return 0


def cmd_events(ctx: Context) -> int:
    """A job's history."""
    page = ctx.client.job_events(ctx.args.job_id, limit=1000)
    if ctx.out.mode == "json":
        ctx.out.json(page)
        return 0
    rows = [
        (e.id, e.created_at, e.type, e.data.get("status"), f"{float(e.data.get('progress') or 0):.0%}")
        for e in page.items
    ]
    ctx.out.table(["id", "at", "type", "status", "progress"], rows)
    return 0


def cmd_delete(ctx: Context) -> int:
    """Delete a finished job."""
    ctx.client.delete_job(ctx.args.job_id)
    ctx.out.answer({"deleted": str(ctx.args.job_id)}, f"{ctx.args.job_id} deleted")
    return 0
