"""Following a job or a workflow live: a progress bar on a terminal, a line per event when piped."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC

from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn

from schemas.events import EventView
from schemas.jobs import TERMINAL, JobView
from schemas.workflows import WorkflowView
from services.cli.common import Context
from services.cli.output import Output
from services.cli.trees import tree_rows, workflow_display
from services.client.streams import JOB_END_EVENTS, WORKFLOW_END, WORKFLOW_END_EVENTS

#: The exit code of `watch` for each way a job or workflow ends.
EXIT_CODES = {"succeeded": 0, "failed": 1, "cancelled": 2}


def exit_code(status: str) -> int:
    """0 succeeded, 1 failed, 2 cancelled."""
    return EXIT_CODES[status]


def bar(out: Output) -> Progress:
    """The progress bar of a watch: what, how far, the latest message, how long."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[message]}"),
        TimeElapsedColumn(),
        console=out.console,
    )


def event_line(event: EventView) -> str:
    """One plain line for an event: time, type, status, progress and message."""
    data = event.data
    at = event.created_at.astimezone(UTC).strftime("%H:%M:%S")
    progress = f"{float(data.get('progress') or 0) * 100:.0f}%" if "progress" in data else ""
    parts = [at, event.type, str(data.get("status", "")), progress, str(data.get("progress_message") or "")]
    return "  ".join(part for part in parts if part)


def watch_job(ctx: Context, job_id: uuid.UUID) -> int:
    """Follow a job until it ends; its exit code."""
    job = ctx.client.get_job(job_id)
    if job.status not in TERMINAL:
        job = follow_job(ctx, job)
    ctx.out.answer(job, final_line(job), "bold")
    return exit_code(job.status)


def follow_job(ctx: Context, job: JobView) -> JobView:
    """Read the job's events (from its first) until it ends, showing each; its final view."""
    with job_display(ctx.out, job) as show:
        for event in ctx.client.events(job_id=job.id, after=0):
            show(event)
            if event.type in JOB_END_EVENTS:
                job = ctx.client.get_job(job.id)
                if job.status in TERMINAL:
                    return job
    raise AssertionError("the event stream ended")


@contextmanager
def job_display(out: Output, job: JobView) -> Iterator[Callable[[EventView], None]]:
    """What shows a job's events: a live bar, plain lines, or nothing (--json)."""
    if out.mode == "json":
        yield lambda event: None
    elif out.mode == "plain":
        yield lambda event: out.line(event_line(event))
    else:
        with bar(out) as progress:
            task = progress.add_task(f"{job.operation} {job.status}", total=1.0, message="")
            progress.update(task, completed=job.progress)
            yield lambda event: advance(progress, task, job.operation, event)


def advance(progress: Progress, task: TaskID, operation: str, event: EventView) -> None:
    """Move the bar to where the event says the job is."""
    data = event.data
    done = 1.0 if data.get("status") == "succeeded" else float(data.get("progress") or 0)
    message = str(data.get("progress_message") or "")
    progress.update(task, completed=done, description=f"{operation} {data.get('status', '')}", message=message)


def final_line(job: JobView) -> str:
    """How a job ended, in a line."""
    line = f"{job.id} {job.status}"
    if job.error is not None:
        line += f": {job.error.type}: {job.error.message}"
    return line


def watch_workflow(ctx: Context, workflow_id: uuid.UUID) -> int:
    """Follow a workflow until it ends, showing its DAG; its exit code."""
    view = ctx.client.get_workflow(workflow_id)
    if view.status not in WORKFLOW_END:
        view = follow_workflow(ctx, view)
    if ctx.out.mode == "json":
        ctx.out.json(view)
    else:
        if ctx.out.mode == "plain":
            ctx.out.stream.write(plain_tree(view))
        ctx.out.line(f"{view.id} {view.status}", "bold")
    return exit_code(view.status)


def follow_workflow(ctx: Context, view: WorkflowView) -> WorkflowView:
    """Read the workflow's events until it ends, the tree redrawn on each; its final view."""
    progress: dict[str, float] = {}
    live = Live(workflow_display(view, progress), console=ctx.out.console) if ctx.out.rich else None
    with live or _nothing():
        for event in ctx.client.events(workflow_id=view.id, after=0):
            if ctx.out.mode == "plain":
                ctx.out.line(f"{event_line(event)}  {event.data.get('node_key') or ''}".rstrip())
            if event.type == "job.progress":
                progress[str(event.data.get("node_key"))] = float(event.data.get("progress") or 0)
            else:
                view = ctx.client.get_workflow(view.id)
            if live is not None:
                live.update(workflow_display(view, progress))
            if event.type in WORKFLOW_END_EVENTS and view.status in WORKFLOW_END:
                return view
    raise AssertionError("the event stream ended")


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def plain_tree(view: WorkflowView) -> str:
    """The workflow's DAG as indented plain lines."""
    return "".join(f"{'  ' * depth}{line}\n" for depth, line in tree_rows(view))
