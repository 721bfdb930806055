"""`conveyor dlq`: the dead letters (jobs failed for good): list, replay, purge."""

from __future__ import annotations

import argparse
import uuid
from datetime import datetime
from typing import Any

from schemas.dead_letters import DeadLetterFilter
from schemas.jobs import ErrorCategory
from services.cli.common import Context, UsageError, command, group


def add_commands(sub: Any) -> None:
    """The `dlq` group."""
    dlq = group(sub, "dlq", "dead letters: jobs that failed for good", "conveyor dlq list --queue general")
    listing = command(
        dlq,
        "list",
        cmd_list,
        "dead letters, newest failure first",
        "conveyor dlq list --queue general --category permanent",
    )
    add_filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1–500)")
    listing.add_argument("--cursor", help="the next_cursor of the previous page (see --json)")
    replay = command(
        dlq, "replay", cmd_replay, "run dead letters again: those named, or all matching the filters",
        "conveyor dlq replay --queue general --operation flaky --rate 20",
    )  # fmt: skip
    replay.add_argument("ids", nargs="*", type=uuid.UUID, metavar="JOB_ID", help="the dead letters (or filters)")
    add_filters(replay)
    replay.add_argument("--rate", type=float, metavar="PER_SECOND", help="at most this many a second")
    purge = command(
        dlq, "purge", cmd_purge, "take dead letters off the list (the jobs stay failed)",
        "conveyor dlq purge --tag campaign-42 --category permanent",
    )  # fmt: skip
    purge.add_argument("ids", nargs="*", type=uuid.UUID, metavar="JOB_ID", help="the dead letters (or filters)")
    add_filters(purge)


def add_filters(parser: argparse.ArgumentParser) -> None:
    """The dead-letter filters."""
    parser.add_argument("--queue", help="of this engine queue")
    parser.add_argument("--operation")
    parser.add_argument("--category", choices=[c.value for c in ErrorCategory], help="whose error has this category")
    parser.add_argument("--tag", help="carrying this tag")
    parser.add_argument("--since", type=datetime.fromisoformat, metavar="TIME", help="failed at or after (RFC 3339)")


def selection(args: argparse.Namespace) -> tuple[list[uuid.UUID] | None, DeadLetterFilter | None]:
    """The ids named, else the filters given; a UsageError if neither or both."""
    given = {k: getattr(args, k) for k in ("queue", "operation", "category", "tag", "since") if getattr(args, k)}
    if bool(args.ids) == bool(given):
        raise UsageError(
            "name dead letters by id or by filters (--queue, --operation, --category, --tag, --since), not both"
        )
    if args.ids:
        return list(args.ids), None
    return None, DeadLetterFilter(**given)


def cmd_list(ctx: Context) -> int:
    """List dead letters."""
    a = ctx.args
    page = ctx.client.list_dead_letters(
        queue=a.queue,
        operation=a.operation,
        category=a.category,
        tag=a.tag,
        since=a.since,
        limit=a.limit,
        cursor=a.cursor,
    )
    if ctx.out.mode == "json":
        ctx.out.json(page)
        return 0
    rows = [
        (
            d.id,
            f"{d.queue}.{d.operation}",
            d.error and d.error.category,
            d.error and f"{d.error.type}: {d.error.message}",
            d.attempts,
            d.failed_at,
        )
        for d in page.items
    ]
    ctx.out.table(["id", "operation", "category", "error", "attempts", "failed"], rows)
    return 0


def cmd_replay(ctx: Context) -> int:
    """Replay dead letters."""
    ids, where = selection(ctx.args)
    done = ctx.client.replay_dead_letters(ids=ids, filter=where, max_per_second=ctx.args.rate)
    if ctx.out.mode == "json":
        ctx.out.json(done)
    else:
        pairs = [
            ("replayed", done.replayed),
            ("not replayable", done.not_replayable),
            ("not found", done.not_found),
            ("more", done.more),
        ]
        ctx.out.fields(pairs)
    return 0


def cmd_purge(ctx: Context) -> int:
    """Purge dead letters."""
    ids, where = selection(ctx.args)
    done = ctx.client.purge_dead_letters(ids=ids, filter=where)
    if ctx.out.mode == "json":
        ctx.out.json(done)
    else:
        ctx.out.fields([("purged", done.purged), ("not found", done.not_found), ("more", done.more)])
    return 0
