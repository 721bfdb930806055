"""`conveyor tail`: the live event stream, filtered, one line per event."""

from __future__ import annotations

import uuid
from typing import Any

from rich.text import Text

from schemas.events import EventView
from services.cli.common import Context, command
from services.cli.output import STATUS_STYLES, cell


def add_commands(sub: Any) -> None:
    """The `tail` command."""
    tail = command(
        sub, "tail", cmd_tail, "follow the event stream live (Ctrl+C stops), filtered like GET /v1/events/stream",
        "conveyor tail --type job.failed --type job.succeeded --tag demo",
    )  # fmt: skip
    tail.add_argument("--job", type=uuid.UUID, metavar="JOB_ID", help="one job's events")
    tail.add_argument(
        "--workflow", type=uuid.UUID, metavar="WORKFLOW_ID", help="one workflow's events (its nodes' too)"
    )
    tail.add_argument("--tag", action="append", default=[], help="events carrying every tag given (repeatable)")
    tail.add_argument("--type", action="append", default=[], help="an event type, job.*, workflow.* or * (repeatable)")
    tail.add_argument("--after", type=int, metavar="EVENT_ID", help="start after this event (0: the whole log)")
    tail.add_argument("--count", type=int, metavar="N", help="stop after N events")
    tail.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long (exit 0)")


def event_row(event: EventView) -> list[str]:
    """An event's columns: id, time, type, job or workflow, operation or name, status, progress."""
    data = event.data
    what = f"{data.get('engine')}.{data['operation']}" if data.get("operation") else str(data.get("name") or "")
    subject = event.job_id or event.workflow_id
    progress = f"{float(data['progress']):.0%}" if isinstance(data.get("progress"), int | float) else ""
    return [
        str(event.id),
        cell(event.created_at),
        event.type,
        str(subject or "-"),
        what,
        str(data.get("status", "")),
        progress,
    ]


def cmd_tail(ctx: Context) -> int:
    """Print events as they come."""
    a = ctx.args
    events = ctx.client.events(
        job_id=a.job, workflow_id=a.workflow, tag=a.tag, type=a.type, after=a.after, timeout=a.timeout
    )
    seen = 0
    try:
        for event in events:
            show(ctx, event)
            seen += 1
            if a.count is not None and seen >= a.count:
                break
    except TimeoutError:
        pass
    return 0


def show(ctx: Context, event: EventView) -> None:
    """Print one event."""
    if ctx.out.mode == "json":
        ctx.out.json(event)
        return
    row = event_row(event)
    if ctx.out.rich:
        status = row[5]
        line = Text("  ".join(row[:5]) + "  ")
        line.append(status, STATUS_STYLES.get(status, ""))
        line.append(("  " + row[6]) if row[6] else "")
        ctx.out.console.print(line)
    else:
        ctx.out.line("  ".join(part for part in row if part))
    ctx.out.stream.flush()
