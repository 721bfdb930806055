"""`conveyor queues`: every queue's figures; pause, resume and limit one (admin)."""

from __future__ import annotations

from typing import Any

from schemas.operations import QueueView
from services.cli.common import Context, command, group
from services.client.operations import KEEP

COLUMNS = [
    "queue",
    "ready",
    "unacked",
    "consumers",
    "dead",
    "queued",
    "running",
    "paused",
    "limit",
    "jobs/min",
    "success",
]


def add_commands(sub: Any) -> None:
    """The `queues` group."""
    queues = group(
        sub, "queues", "see and steer the engines' queues (admin key)", "conveyor queues pause image_generation"
    )
    command(
        queues,
        "list",
        cmd_list,
        "every queue: RabbitMQ's messages, PostgreSQL's jobs, controls, pace",
        "conveyor queues list",
    )
    for name, handler, text in (
        ("show", cmd_show, "one queue's figures"),
        ("pause", cmd_pause, "pause a queue: no job of it starts (within 2 s); running ones finish"),
        ("resume", cmd_resume, "resume a paused queue"),
    ):
        one = command(queues, name, handler, text, f"conveyor queues {name} image_generation")
        one.add_argument("queue", metavar="QUEUE", help="the queue (its engine's name)")
    limit = command(
        queues, "limit", cmd_limit, "set a queue's limits (a limit not given keeps its value; 'none' removes it)",
        "conveyor queues limit image_generation --concurrency 4 --backlog 10000",
    )  # fmt: skip
    limit.add_argument("queue", metavar="QUEUE")
    limit.add_argument(
        "--concurrency", type=limit_value, default=KEEP, help="at most this many of its jobs at once, or none"
    )
    limit.add_argument(
        "--backlog", type=limit_value, default=KEEP, help="submissions answer 429 past this many, or none"
    )


def limit_value(text: str) -> int | None:
    """A limit: a whole number, or `none` to remove it."""
    return None if text.lower() == "none" else int(text)


def row(queue: QueueView) -> list[Any]:
    """A queue's row."""
    rate = None if queue.success_rate is None else f"{queue.success_rate:.0%}"
    limit = queue.max_concurrency
    return [
        queue.engine, queue.ready, queue.unacked, queue.consumers, queue.dead, queue.queued, queue.running,
        queue.paused, limit, queue.throughput_per_minute, rate,
    ]  # fmt: skip


def show(ctx: Context, queues: list[QueueView]) -> int:
    """Print queues."""
    if ctx.out.mode == "json":
        ctx.out.json(queues if len(queues) != 1 else queues[0])
    else:
        ctx.out.table(COLUMNS, [row(queue) for queue in queues])
    return 0


def cmd_list(ctx: Context) -> int:
    """Every queue."""
    queues = ctx.client.list_queues()
    if ctx.out.mode == "json":
        ctx.out.json(queues)
        return 0
    return show(ctx, queues)


def cmd_show(ctx: Context) -> int:
    """One queue."""
    return show(ctx, [ctx.client.get_queue(ctx.args.queue)])


def cmd_pause(ctx: Context) -> int:
    """Pause a queue."""
    return show(ctx, [ctx.client.pause_queue(ctx.args.queue)])


def cmd_resume(ctx: Context) -> int:
    """Resume a queue."""
    return show(ctx, [ctx.client.resume_queue(ctx.args.queue)])


def cmd_limit(ctx: Context) -> int:
    """Set a queue's limits."""
    a = ctx.args
    limits = ctx.client.set_queue_limits(a.queue, max_concurrency=a.concurrency, max_backlog=a.backlog)
    if ctx.out.mode == "json":
        ctx.out.json(limits)
    else:
        ctx.out.fields(
            [("queue", a.queue), ("max_concurrency", limits.max_concurrency), ("max_backlog", limits.max_backlog)]
        )
    return 0
