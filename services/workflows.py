"""Turning a submitted workflow into a stored one: validate all of it, then write it at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
from msgspec.structs import replace

from infra.dispatch import Dispatcher
from infra.jobs import to_dispatch
from infra.settings import Settings
from infra.workflows import NewNode, NewWorkflow, insert_workflow
from schemas.contracts import Contracts
from schemas.errors import FieldError, nul_errors
from schemas.events import WORKFLOW_EVENT_TYPES
from schemas.ids import uuid7
from schemas.jobs import JobSpec, JobStatus, JobSubmit, find_refs, notify_errors
from schemas.workflows import WorkflowNodeSubmit, WorkflowSubmit, check_graph, check_refs, children_of
from services.submit import SubmitError, build_job

#: The fields a node shares with a job.
JOB_FIELDS = JobSpec.__struct_fields__


def build_workflow(submit: WorkflowSubmit, registry: Contracts, settings: Settings) -> NewWorkflow:
    """Check a whole workflow; SubmitError naming every node at fault, and nothing built, if one is."""
    errors = check_graph(submit.nodes)
    errors += nul_errors({"name": submit.name, "idempotency_key": submit.idempotency_key, "metadata": submit.metadata})
    errors += notify_errors(submit.notify, "notify", allowed=WORKFLOW_EVENT_TYPES)
    nodes = build_nodes(submit.nodes, registry, settings, errors=errors)
    if errors:
        raise SubmitError(errors, code="invalid_workflow")
    return NewWorkflow(
        id=uuid7(),
        name=submit.name,
        on_failure=submit.on_failure,
        tags=submit.tags,
        metadata=submit.metadata,
        idempotency_key=submit.idempotency_key,
        nodes=nodes,
        notify=None if submit.notify is None else msgspec.to_builtins(submit.notify),
    )


def build_nodes(
    submitted: Sequence[WorkflowNodeSubmit], registry: Contracts, settings: Settings, *, errors: list[FieldError]
) -> list[NewNode]:
    """Each node with its job (children: among `submitted`); the problems of each node, at
    `nodes[i]`, are added to `errors`."""
    children = children_of(submitted)
    nodes: list[NewNode] = []
    for index, node in enumerate(submitted):
        at = f"nodes[{index}]"
        errors += check_refs(node, at)
        try:
            nodes.append(build_node(node, children[node.key], registry, settings, at=at))
        except SubmitError as exc:
            errors += exc.errors
    return nodes


def build_node(
    node: WorkflowNodeSubmit, children: list[str], registry: Contracts, settings: Settings, *, at: str
) -> NewNode:
    """A node and its job: a root's job is queued (or scheduled) at once, the others wait."""
    fields: dict[str, Any] = {name: getattr(node, name) for name in JOB_FIELDS}
    fields["template"] = node.template
    root = not node.depends_on
    if not root:  # a later node's time counts from when it is ready
        fields.update(run_at=None, delay_seconds=None)
    if not root and node.run_at is not None and node.delay_seconds is not None:
        raise SubmitError([FieldError(f"{at}.delay_seconds", "give run_at or delay_seconds, not both")])
    job = build_job(
        JobSubmit(**fields), registry, settings, at=at, check_params=next(find_refs(node.params), None) is None
    )
    if not root:
        job = replace(job, status=JobStatus.WAITING, run_at=None)
    return NewNode(
        key=node.key,
        depends_on=node.depends_on,
        children=children,
        job=job,
        for_each=node.for_each,
        run_at=None if root else node.run_at,
        delay_seconds=None if root else node.delay_seconds,
    )


async def submit_workflow(dispatcher: Dispatcher, tenant: str, wf: NewWorkflow) -> tuple[asyncpg.Record, bool]:
    """Store a workflow, then hand its queued roots to the dispatcher; its row, and whether it is
    new (False: the tenant's earlier workflow under the same idempotency key)."""
    async with dispatcher.pool.acquire() as conn:
        row, jobs = await insert_workflow(conn, tenant, wf)
    if jobs is None:
        return row, False
    dispatcher.send([to_dispatch(job) for job in jobs if job["status"] == JobStatus.QUEUED])
    return row, True
