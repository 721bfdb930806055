"""`conveyor workflows`: submit a DAG from a file, list them, show one as a tree, watch it live,
cancel it, run it again from its failed nodes."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.workflows import WorkflowStatus
from services.cli.common import Context, command, group, json_object
from services.cli.trees import tree_rows, workflow_tree
from services.cli.watch import watch_workflow


def add_commands(sub: Any) -> None:
    """The `workflows` group."""
    workflows = group(sub, "workflows", "submit and follow workflows (DAGs of jobs)", "conveyor workflows show $WF")
    submit = command(
        workflows, "submit", cmd_submit,
        "submit a workflow from a JSON file (the body of POST /v1/workflows); prints its id",
        "WF=$(conveyor workflows submit digest.json)",
    )  # fmt: skip
    submit.add_argument(
        "file", type=lambda name: json_object(f"@{name}"), metavar="FILE", help="the workflow (- for stdin)"
    )
    listing = command(
        workflows, "list", cmd_list, "list workflows, newest first", "conveyor workflows list --status failed"
    )
    listing.add_argument(
        "--status", action="append", choices=[s.value for s in WorkflowStatus], default=[], help="repeatable"
    )
    listing.add_argument("--name", help="only workflows of this name")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1–500)")
    listing.add_argument("--cursor", help="the next_cursor of the previous page (see --json)")
    retry = command(
        workflows, "retry", cmd_retry,
        "run a failed or cancelled workflow again from its failed and cancelled nodes (or those named)",
        "conveyor workflows retry $WF --node summary",
    )  # fmt: skip
    retry.add_argument("workflow_id", type=uuid.UUID, metavar="WORKFLOW_ID")
    retry.add_argument("--node", action="append", default=[], metavar="KEY", help="only from this node (repeatable)")
    for name, handler, text in (
        ("show", cmd_show, "show a workflow: its DAG as a tree with each node's state"),
        ("watch", cmd_watch, "follow a workflow live until it ends; exit 0 succeeded, 1 failed, 2 cancelled"),
        ("cancel", cmd_cancel, "cancel a workflow: no node starts any more, running ones stop"),
    ):
        one = command(workflows, name, handler, text, f"conveyor workflows {name} $WF")
        one.add_argument("workflow_id", type=uuid.UUID, metavar="WORKFLOW_ID")


def cmd_submit(ctx: Context) -> int:
    """Submit a workflow; print its id."""
    view = ctx.client.submit_workflow(ctx.args.file)
    if ctx.out.mode == "json":
        ctx.out.json(view)
    elif ctx.out.rich:
        ctx.out.console.print(workflow_tree(view))
        ctx.out.line(str(view.id), "bold")
    else:
        ctx.out.line(str(view.id))
    return 0


def cmd_show(ctx: Context) -> int:
    """Show a workflow as a tree."""
    view = ctx.client.get_workflow(ctx.args.workflow_id)
    if ctx.out.mode == "json":
        ctx.out.json(view)
    elif ctx.out.rich:
        ctx.out.console.print(workflow_tree(view))
    else:
        ctx.out.stream.write("".join(f"{'  ' * depth}{line}\n" for depth, line in tree_rows(view)))
    return 0


def cmd_watch(ctx: Context) -> int:
    """Follow a workflow until it ends."""
    return watch_workflow(ctx, ctx.args.workflow_id)


def cmd_cancel(ctx: Context) -> int:
    """Cancel a workflow."""
    view = ctx.client.cancel_workflow(ctx.args.workflow_id)
    ctx.out.answer(view, f"{view.id} {view.status}" + ("" if view.finished_at else " (cancel requested)"))
    return 0


def cmd_list(ctx: Context) -> int:
    """List workflows."""
    a = ctx.args
    page = ctx.client.list_workflows(status=a.status, name=a.name, limit=a.limit, cursor=a.cursor)
    if ctx.out.mode == "json":
        ctx.out.json(page)
        return 0
    rows = [
        (w.id, w.name, w.status, f"{w.nodes_finished}/{w.nodes_total}", w.nodes_failed, w.created_at)
        for w in page.items
    ]
    ctx.out.table(["id", "name", "status", "nodes done", "failed", "created"], rows)
    if page.next_cursor and ctx.out.rich:
        ctx.out.line(f"more: --cursor {page.next_cursor}", "dim")
    return 0


def cmd_retry(ctx: Context) -> int:
    """Run a workflow again from its failed and cancelled nodes."""
    view = ctx.client.retry_workflow(ctx.args.workflow_id, ctx.args.node or None)
    ctx.out.answer(view, f"{view.id} {view.status} (retry {view.retries})")
    return 0
