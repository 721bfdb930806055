"""`conveyor subscriptions`: standing orders to hear of events by webhook, e-mail or the inbox."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.subscriptions import SubscriptionView
from services.cli.common import Context, command, group


def add_commands(sub: Any) -> None:
    """The `subscriptions` group."""
    subs = group(sub, "subscriptions", "webhooks, e-mail and inbox notices of events", "conveyor subscriptions list")
    command(subs, "list", cmd_list, "every subscription, newest first", "conveyor subscriptions list")
    create = command(
        subs, "create", cmd_create, "create a subscription; prints its id (and a webhook's secret, shown only now)",
        "conveyor subscriptions create --webhook https://hooks.example.com/conveyor --event job.failed --tag billing",
    )  # fmt: skip
    channel = create.add_mutually_exclusive_group(required=True)
    channel.add_argument("--webhook", metavar="URL", help="POST each event here (signed)")
    channel.add_argument("--email", metavar="ADDRESS", help="e-mail each event here")
    channel.add_argument("--inbox", action="store_true", help="write each event to the tenant's inbox")
    create.add_argument(
        "--event", action="append", required=True, help="an event type, job.*, workflow.* or * (repeatable)"
    )
    create.add_argument("--tag", action="append", default=[], help="only events of jobs carrying every tag given")
    create.add_argument("--engine", action="append", default=[], help="only these engines' jobs (repeatable)")
    create.add_argument(
        "--operation", action="append", default=[], help="only these operations, engine.operation (repeatable)"
    )
    create.add_argument("--description", default="", help="what it is for")
    for name, handler, text in (
        ("show", cmd_show, "one subscription"),
        ("delete", cmd_delete, "delete a subscription"),
        ("enable", cmd_enable, "enable a subscription that was disabled"),
        ("test", cmd_test, "send it a test (ping)"),
        ("deliveries", cmd_deliveries, "its deliveries, newest first, with their attempts"),
    ):
        one = command(subs, name, handler, text, f"conveyor subscriptions {name} $SUBSCRIPTION")
        one.add_argument("subscription_id", type=uuid.UUID, metavar="SUBSCRIPTION_ID")


def target(view: SubscriptionView) -> str:
    """Where a subscription's deliveries go."""
    return view.url or view.address or "inbox"


def show(ctx: Context, views: list[SubscriptionView]) -> None:
    """Print subscriptions."""
    rows = [(v.id, v.channel, target(v), v.events, v.filter.tags, v.disabled_at is None, v.description) for v in views]
    ctx.out.table(["id", "channel", "target", "events", "tags", "enabled", "description"], rows)


def cmd_list(ctx: Context) -> int:
    """Every subscription."""
    page = ctx.client.list_subscriptions(limit=500)
    if ctx.out.mode == "json":
        ctx.out.json(page)
    else:
        show(ctx, page.items)
    return 0


def cmd_create(ctx: Context) -> int:
    """Create a subscription."""
    a = ctx.args
    channel = "webhook" if a.webhook else "email" if a.email else "inbox"
    body: dict[str, Any] = {"channel": channel, "events": a.event, "description": a.description}
    body.update({"url": a.webhook} if a.webhook else {"address": a.email} if a.email else {})
    if a.tag or a.engine or a.operation:
        body["filter"] = {"tags": a.tag, "engines": a.engine, "operations": a.operation}
    view = ctx.client.create_subscription(body)
    if ctx.out.mode == "json":
        ctx.out.json(view)
    elif ctx.out.rich:
        show(ctx, [view])
        if view.secret:
            ctx.out.line(f"secret (shown only now): {view.secret}", "bold")
    else:
        ctx.out.line(str(view.id) + (f" {view.secret}" if view.secret else ""))
    return 0


def one(ctx: Context, view: SubscriptionView) -> int:
    """Print one subscription."""
    if ctx.out.mode == "json":
        ctx.out.json(view)
    else:
        show(ctx, [view])
    return 0


def cmd_show(ctx: Context) -> int:
    """One subscription."""
    return one(ctx, ctx.client.get_subscription(ctx.args.subscription_id))


def cmd_enable(ctx: Context) -> int:
    """Enable a subscription."""
    return one(ctx, ctx.client.enable_subscription(ctx.args.subscription_id))


def cmd_delete(ctx: Context) -> int:
    """Delete a subscription."""
    ctx.client.delete_subscription(ctx.args.subscription_id)
    ctx.out.answer({"deleted": str(ctx.args.subscription_id)}, f"{ctx.args.subscription_id} deleted")
    return 0


def cmd_test(ctx: Context) -> int:
    """Send a test."""
    sent = ctx.client.test_subscription(ctx.args.subscription_id)
    ctx.out.answer(sent, f"test sent: {sent.id}")
    return 0


def cmd_deliveries(ctx: Context) -> int:
    """A subscription's deliveries."""
    page = ctx.client.list_deliveries(ctx.args.subscription_id)
    if ctx.out.mode == "json":
        ctx.out.json(page)
        return 0
    rows = [(d.id, d.event_type, d.status, d.attempts, d.created_at, d.delivered_at) for d in page.items]
    ctx.out.table(["id", "event", "status", "attempts", "created", "delivered"], rows)
    return 0
