"""Workflows: DAGs of job nodes, their wire contract and the rules a DAG must satisfy."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from schemas.errors import FieldError
from schemas.jobs import JobError, JobSpec, Notify, Tag, find_refs

MAX_NODES = 1000  # in one request
MAX_WORKFLOW_NODES = 10_000  # in a workflow grown by additions
NodeKey = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
#: `<parent key>.result` followed by an optional dotted path into the parent's result.
PARENT_REF = re.compile(r"^(?P<key>[A-Za-z0-9_-]+)\.(result(\.[^.]+)*|artifacts\.[A-Za-z0-9][A-Za-z0-9._-]{0,127})$")
ITEM_REF = re.compile(r"^\$item(\.[^.]+)*$")


class WorkflowStatus(enum.StrEnum):
    """Where a workflow is: running until every node has finished."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every node succeeded
    FAILED = "failed"  # a node failed
    CANCELLED = "cancelled"  # cancelled on request, or a node was


OnFailure = Literal["cancel_dependents", "continue"]


class WorkflowNodeSubmit(JobSpec, kw_only=True):
    """One node: a job, the nodes it waits for, optionally one job per element of a list.

    Its run_at/delay_seconds count from when the node is ready (a root: from submission)."""

    key: NodeKey
    depends_on: Annotated[list[NodeKey], Meta(max_length=MAX_NODES)] = []
    for_each: Annotated[str, Meta(max_length=1000)] | None = None
    #: The template its job starts from, as for POST /v1/jobs (`name` or `name@<version>`).
    template: Annotated[str, Meta(min_length=1, max_length=110)] | None = None


class WorkflowSubmit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A workflow as a client submits it."""

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    nodes: Annotated[list[WorkflowNodeSubmit], Meta(min_length=1, max_length=MAX_NODES)]
    on_failure: OnFailure = "cancel_dependents"
    tags: Annotated[list[Tag], Meta(max_length=32)] = []
    metadata: dict[str, Any] = {}
    idempotency_key: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    #: Whom to tell of the workflow's own events (workflow.*); its nodes' jobs tell nobody.
    notify: Notify | None = None


class WorkflowNodeView(msgspec.Struct, kw_only=True):
    """A node as the API shows it; a for_each node has no single job but counts its items."""

    key: str
    job_id: uuid.UUID | None
    status: str
    depends_on: list[str]
    engine: str
    operation: str
    for_each: str | None
    items_total: int | None
    items_finished: int | None
    error: JobError | None
    finished_at: datetime | None
    #: When it was added to the running workflow (null: submitted with it).
    added_at: datetime | None = None


class WorkflowSummary(msgspec.Struct, kw_only=True):
    """A workflow without its nodes, as listings show it."""

    id: uuid.UUID
    name: str
    status: WorkflowStatus
    on_failure: OnFailure
    tags: list[str]
    metadata: dict[str, Any]
    idempotency_key: str | None
    nodes_total: int
    nodes_finished: int
    nodes_failed: int
    nodes_cancelled: int
    cancel_requested_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    #: Whom the workflow's events are told to, as submitted.
    notify: Notify | None = None
    #: How many times it was run again from its failed and cancelled nodes, and when last.
    retries: int = 0
    retried_at: datetime | None = None


class WorkflowRetryView(msgspec.Struct, kw_only=True):
    """One retry of a workflow: when, the keys asked for (null: all) and the nodes it ran again."""

    number: int
    at: datetime
    requested: list[str] | None
    nodes: list[str]


class WorkflowView(WorkflowSummary, kw_only=True):
    """A workflow with its nodes, in the order submitted (added ones last), and its retries."""

    nodes: list[WorkflowNodeView]
    retry_history: list[WorkflowRetryView] = []


class WorkflowNodesAdd(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Nodes to add to a running workflow: their depends_on may name its nodes and each other."""

    nodes: Annotated[list[WorkflowNodeSubmit], Meta(min_length=1, max_length=MAX_NODES)]


class WorkflowRetrySubmit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The failed or cancelled nodes to run again (null: all); what they had stopped below follows."""

    nodes: Annotated[list[NodeKey], Meta(min_length=1, max_length=MAX_WORKFLOW_NODES)] | None = None


class WorkflowPage(msgspec.Struct):
    """One page of a workflow listing, newest first."""

    items: list[WorkflowSummary]
    next_cursor: str | None


def check_refs(node: WorkflowNodeSubmit, at: str) -> list[FieldError]:
    """Problems with a node's `$ref`s and `for_each`: each must name a parent's result."""
    errors: list[FieldError] = []
    if node.for_each is not None and (problem := _parent_ref_problem(node.for_each, node.depends_on)):
        errors.append(FieldError(f"{at}.for_each", problem))
    for ref in find_refs(node.params):
        if ITEM_REF.match(ref):
            if node.for_each is None:
                errors.append(FieldError(f"{at}.params", f'$ref "{ref}": $item exists only in a for_each node'))
        elif problem := _parent_ref_problem(ref, node.depends_on):
            errors.append(FieldError(f"{at}.params", f'$ref "{ref}": {problem}'))
    return errors


def _parent_ref_problem(ref: str, depends_on: Sequence[str]) -> str | None:
    match = PARENT_REF.match(ref)
    if match is None:
        return 'write "<parent key>.result", "<parent key>.result.<path>" or "<parent key>.artifacts.<name>"'
    if match["key"] not in depends_on:
        return f'"{match["key"]}" is not in depends_on'
    return None


def check_graph(
    nodes: Sequence[WorkflowNodeSubmit], existing: Mapping[str, Sequence[str]] | None = None
) -> list[FieldError]:
    """Duplicate keys, unknown or repeated dependencies, and cycles (each cycle named). Nodes added
    to a workflow are checked with its `existing` nodes (key → depends_on) as part of the graph."""
    existing = existing or {}
    errors: list[FieldError] = []
    first: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if node.key in existing:
            errors.append(FieldError(f"nodes[{index}].key", f'"{node.key}" is the key of a node of the workflow'))
        elif node.key in first:
            errors.append(
                FieldError(f"nodes[{index}].key", f'"{node.key}" repeats the key of nodes[{first[node.key]}]')
            )
        first.setdefault(node.key, index)
    for index, node in enumerate(nodes):
        for dep in node.depends_on:
            if dep not in first and dep not in existing:
                errors.append(FieldError(f"nodes[{index}].depends_on", f'"{dep}" is not the key of any node'))
        if len(set(node.depends_on)) != len(node.depends_on):
            errors.append(FieldError(f"nodes[{index}].depends_on", "lists a node twice"))
    if errors:
        return errors
    cycle = find_cycle({**existing, **{node.key: node.depends_on for node in nodes}})
    if cycle is not None:
        start = next(i for i, key in enumerate(cycle) if key in first)  # existing nodes alone form none
        cycle = cycle[start:] + cycle[:start]
        path = " → ".join([*cycle, cycle[0]])
        errors.append(
            FieldError(f"nodes[{first[cycle[0]]}].depends_on", f"forms a cycle: {path} (each depends on the next)")
        )
    return errors


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle of the graph (its keys in dependency order), or None if it is a DAG."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in depends_on:
        if start in state:
            continue
        path, stack = [start], [iter(depends_on[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(depends_on[nxt]))
    return None


def children_of(nodes: Sequence[WorkflowNodeSubmit]) -> dict[str, list[str]]:
    """Each node's children among `nodes` (the nodes that depend on it), in submission order."""
    children: dict[str, list[str]] = {node.key: [] for node in nodes}
    for node in nodes:
        for dep in node.depends_on:
            if dep in children:
                children[dep].append(node.key)
    return children


def topological_order(depends_on: Mapping[str, Sequence[str]]) -> list[str]:
    """The keys of a DAG (key → the keys it depends on), each after every key it depends on."""
    left = {key: len(deps) for key, deps in depends_on.items()}
    below: dict[str, list[str]] = {key: [] for key in depends_on}
    for key, deps in depends_on.items():
        for dep in deps:
            below[dep].append(key)
    order = [key for key, count in left.items() if count == 0]
    for key in order:  # grows while it is read
        for child in below[key]:
            left[child] -= 1
            if left[child] == 0:
                order.append(child)
    return order


RERUNNABLE = frozenset({"failed", "cancelled"})


class NodeState(msgspec.Struct, frozen=True):
    """A stored node as the rules of a retry see it."""

    key: str
    depends_on: list[str]
    status: str


def retry_plan(
    nodes: Sequence[NodeState], requested: Sequence[str] | None, on_failure: str
) -> tuple[list[str], list[FieldError]]:
    """The nodes a retry runs again, in submission order: those asked for (None: all failed or
    cancelled ones) and below them each failed or cancelled node whose parents succeeded or run
    again (any, under `continue`); or the problems of `requested`, each naming its `nodes[i]`."""
    by_key = {node.key: node for node in nodes}
    errors = [] if requested is None else _requested_errors(by_key, requested)
    if errors:
        return [], errors
    seeds = {n.key for n in nodes if n.status in RERUNNABLE} if requested is None else set(requested)
    rerun: set[str] = set()
    blocked: dict[str, str] = {}  # a node asked for → a parent that neither succeeded nor runs again
    for key in topological_order({node.key: node.depends_on for node in nodes}):
        node = by_key[key]
        if node.status not in RERUNNABLE:
            continue
        stuck = [p for p in node.depends_on if p not in rerun and by_key[p].status != "succeeded"]
        if stuck and on_failure != "continue":
            blocked[key] = stuck[0]
        elif key in seeds or any(p in rerun for p in node.depends_on):
            rerun.add(key)
    errors = [
        FieldError(f"nodes[{i}]", f'"{key}" depends on "{blocked[key]}", which did not succeed and is not run again')
        for i, key in enumerate(requested or [])
        if key in blocked
    ]
    return ([], errors) if errors else ([n.key for n in nodes if n.key in rerun], [])


def _requested_errors(by_key: Mapping[str, NodeState], requested: Sequence[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    first: dict[str, int] = {}
    for index, key in enumerate(requested):
        node = by_key.get(key)
        if key in first:
            errors.append(FieldError(f"nodes[{index}]", f"repeats nodes[{first[key]}]"))
        elif node is None or node.status not in RERUNNABLE:
            what = "is not a node of the workflow" if node is None else f"is {node.status}"
            errors.append(FieldError(f"nodes[{index}]", f'"{key}" {what}: only failed or cancelled nodes run again'))
        first.setdefault(key, index)
    return errors
