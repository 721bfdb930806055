"""A workflow's DAG as a tree: each node under its first parent, naming any other parents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from schemas.workflows import WorkflowNodeView, WorkflowView
from services.cli.output import STATUS_STYLES


def placed(nodes: list[WorkflowNodeView]) -> tuple[list[WorkflowNodeView], dict[str, list[WorkflowNodeView]]]:
    """The roots (no parents) and, per node, the nodes placed under it (those whose first parent it is)."""
    known = {node.key for node in nodes}
    below: dict[str, list[WorkflowNodeView]] = {node.key: [] for node in nodes}
    roots = []
    for node in nodes:
        parents = [key for key in node.depends_on if key in known]
        if parents:
            below[parents[0]].append(node)
        else:
            roots.append(node)
    return roots, below


def walk(nodes: list[WorkflowNodeView]) -> Iterator[tuple[int, WorkflowNodeView]]:
    """Every node with its depth, depth first from the roots, in submission order."""
    roots, below = placed(nodes)
    stack = [(0, node) for node in reversed(roots)]
    while stack:
        depth, node = stack.pop()
        yield depth, node
        stack += [(depth + 1, child) for child in reversed(below[node.key])]


def node_label(node: WorkflowNodeView) -> str:
    """A node in a line: key, status, operation, items done, other parents, error."""
    parts = [node.key, node.status, f"{node.engine}.{node.operation}"]
    if node.items_total is not None:
        parts.append(f"{node.items_finished or 0}/{node.items_total} items")
    if len(node.depends_on) > 1:
        parts.append(f"(also after {', '.join(node.depends_on[1:])})")
    if node.error is not None:
        parts.append(f"{node.error.type}: {node.error.message}")
    return "  ".join(parts)


def tree_rows(view: WorkflowView) -> list[tuple[int, str]]:
    """The workflow's title line, then each node's line with its depth below it."""
    title = f"{view.name}  {view.status}  {view.nodes_finished}/{view.nodes_total} nodes finished"
    return [(0, title)] + [(depth + 1, node_label(node)) for depth, node in walk(view.nodes)]


def workflow_tree(view: WorkflowView, progress: Mapping[str, float] | None = None) -> Tree:
    """The workflow's DAG as a rich Tree, statuses coloured, running nodes with their progress."""
    title = Text.assemble((view.name, "bold"), "  ", (view.status, STATUS_STYLES.get(view.status, "")))
    title.append(f"  {view.nodes_finished}/{view.nodes_total} nodes finished")
    root = Tree(title)
    branches: dict[int, Tree] = {-1: root}
    for depth, node in walk(view.nodes):
        label = Text(node_label(node))
        if node.status == "running" and progress and node.key in progress:
            label.append(f"  {progress[node.key]:.0%}", "cyan")
        label.stylize(STATUS_STYLES.get(node.status, ""), len(node.key) + 2, len(node.key) + 2 + len(node.status))
        branches[depth] = branches[depth - 1].add(label)
    return root


def workflow_display(view: WorkflowView, progress: Mapping[str, float]) -> Group:
    """What `workflows watch` shows live: the tree, then a bar of the nodes finished."""
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=max(view.nodes_total, 1), completed=view.nodes_finished, width=40),
        Text(f"{view.nodes_finished}/{view.nodes_total} nodes finished"),
    )
    return Group(workflow_tree(view, progress), bar)
