"""Growing a running workflow and running a finished one again: checked whole, then written in one
transaction that holds the workflow's row, so nothing is half written and no step slips between."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg

from infra.db import retry_deadlocks
from infra.dispatch import Dispatcher
from infra.jobs import to_dispatch
from infra.settings import Settings
from infra.workflow_growth import add_nodes, lock_workflow, node_states, retry_nodes
from infra.workflows import NewNode
from schemas.contracts import Contracts
from schemas.errors import FieldError
from schemas.jobs import JobStatus
from schemas.workflows import MAX_WORKFLOW_NODES, WorkflowNodesAdd, WorkflowStatus, check_graph, retry_plan
from services.submit import SubmitError
from services.workflows import build_nodes


class WorkflowConflict(Exception):
    """A change the workflow's state does not allow now (409); `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def refuse_unless_running(workflow_id: uuid.UUID, status: str, cancel_requested_at: datetime | None) -> None:
    """WorkflowConflict unless the workflow runs and is not being cancelled: only then may it grow."""
    if status != WorkflowStatus.RUNNING:
        raise WorkflowConflict(
            "workflow_finished", f"workflow {workflow_id} already {status}; nodes join only while it runs"
        )
    if cancel_requested_at is not None:
        raise WorkflowConflict(
            "workflow_cancelling", f"workflow {workflow_id} is being cancelled; nodes cannot join it"
        )


def build_added_nodes(
    submit: WorkflowNodesAdd, existing: Mapping[str, Sequence[str]], registry: Contracts, settings: Settings
) -> list[NewNode]:
    """Check nodes to add to a workflow whose nodes are `existing` (key → depends_on), together
    with them and as a new workflow's nodes are checked; SubmitError naming every node at fault,
    and nothing built, if one is."""
    errors = check_graph(submit.nodes, existing)
    if len(existing) + len(submit.nodes) > MAX_WORKFLOW_NODES:
        message = (
            f"{len(existing)} nodes and {len(submit.nodes)} more pass the {MAX_WORKFLOW_NODES} a workflow may have"
        )
        errors.append(FieldError("nodes", message))
    nodes = build_nodes(submit.nodes, registry, settings, errors=errors)
    if errors:
        raise SubmitError(errors, code="invalid_nodes")
    return nodes


async def grow_workflow(
    dispatcher: Dispatcher,
    tenant: str,
    workflow_id: uuid.UUID,
    submit: WorkflowNodesAdd,
    registry: Contracts,
    settings: Settings,
) -> bool:
    """Add nodes to a tenant's running workflow, then hand its new queued roots to the dispatcher;
    False if the tenant has no such workflow. SubmitError (422) if they do not fit it (checked
    against its nodes as they are under the lock), WorkflowConflict (409) if it cannot grow."""

    async def work(conn: asyncpg.Connection) -> list[asyncpg.Record] | None:
        row = await lock_workflow(conn, tenant, workflow_id)
        if row is None:
            return None
        refuse_unless_running(workflow_id, row["status"], row["cancel_requested_at"])
        existing = {node.key: node.depends_on for node in await node_states(conn, workflow_id)}
        jobs = await add_nodes(conn, tenant, workflow_id, build_added_nodes(submit, existing, registry, settings))
        if jobs is None:  # not while the lock is held: the guard of the statement that counts them
            raise WorkflowConflict("workflow_finished", f"workflow {workflow_id} has finished")
        return jobs

    jobs = await retry_deadlocks(dispatcher.pool, work)
    if jobs is None:
        return False
    dispatcher.send([to_dispatch(job) for job in jobs if job["status"] == JobStatus.QUEUED])
    return True


async def retry_workflow(
    pool: asyncpg.Pool, tenant: str, workflow_id: uuid.UUID, requested: Sequence[str] | None
) -> bool:
    """Run a tenant's failed or cancelled workflow again from its failed and cancelled nodes (or
    from those `requested`, with what they stopped below them); False if it has no such workflow.
    SubmitError (422) naming each `nodes[i]` that cannot run again, WorkflowConflict (409) if the
    workflow is running or succeeded, or nothing in it can run again."""

    async def work(conn: asyncpg.Connection) -> bool:
        row = await lock_workflow(conn, tenant, workflow_id)
        if row is None:
            return False
        if row["status"] not in (WorkflowStatus.FAILED, WorkflowStatus.CANCELLED):
            message = f"workflow {workflow_id} is {row['status']}; only a failed or cancelled workflow runs again"
            raise WorkflowConflict(f"workflow_{row['status']}", message)
        keys, errors = retry_plan(await node_states(conn, workflow_id), requested, row["on_failure"])
        if errors:
            raise SubmitError(errors, code="invalid_retry")
        if not keys or not await retry_nodes(conn, workflow_id, keys, requested):
            message = f"every node of workflow {workflow_id} succeeded; nothing runs again"
            raise WorkflowConflict("nothing_to_retry", message)
        return True

    return await retry_deadlocks(pool, work)
