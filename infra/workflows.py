"""Workflow repository: storing a DAG in one transaction, reading it, cancelling it.

Advancing a workflow is not here: the database does it (migration 0002) in the transaction
that finishes a node's job, whoever finishes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from infra.db import Db, json_text, retry_deadlocks
from infra.jobs import CANCEL_NOW, NewJob, job_columns, retry_on_column
from infra.sql import QUERIES
from schemas.jobs import find_refs
from schemas.workflows import WorkflowNodeView, WorkflowRetryView, WorkflowSummary, WorkflowView


class NewNode(msgspec.Struct, kw_only=True):
    """A validated node: its job (for a for_each node, the template of its item jobs)."""

    key: str
    depends_on: list[str]
    children: list[str]
    job: NewJob
    for_each: str | None = None
    run_at: datetime | None = None  # a non-root node's fixed time, applied once it is ready
    delay_seconds: float | None = None  # or its delay from then


class NewWorkflow(msgspec.Struct, kw_only=True):
    """A validated workflow ready to be stored."""

    id: uuid.UUID
    name: str
    on_failure: str
    tags: list[str]
    metadata: dict[str, Any]
    idempotency_key: str | None = None
    nodes: list[NewNode]
    #: Whom to tell of its events (schemas.jobs.Notify as JSON), or None.
    notify: dict[str, Any] | None = None


TEMPLATE_FIELDS = (
    "engine",
    "operation",
    "priority",
    "params",
    "max_retries",
    "retry_backoff_seconds",
    "retry_backoff_max_seconds",
    "timeout_seconds",
    "tags",
    "metadata",
    "retry_on",
    "template",
)


def template(job: NewJob) -> dict[str, Any]:
    """What each item job of a for_each node is made from."""
    built: dict[str, Any] = msgspec.to_builtins(job)
    return {name: built[name] for name in TEMPLATE_FIELDS}


async def insert_workflow(
    conn: asyncpg.Connection, tenant: str, wf: NewWorkflow
) -> tuple[asyncpg.Record, list[asyncpg.Record] | None]:
    """Store a workflow, its nodes and their jobs in one transaction; its row and its jobs' rows.

    For an idempotency key the tenant used before, nothing is stored: the earlier workflow's
    row, and None for jobs.
    """
    async with conn.transaction():
        row = await conn.fetchrow(
            QUERIES.insert_workflow,
            wf.id,
            tenant,
            wf.name,
            wf.on_failure,
            wf.tags,
            wf.metadata,
            len(wf.nodes),
            wf.idempotency_key,
            wf.notify,
        )
        if row is None:
            return await conn.fetchrow(QUERIES.get_workflow_by_idempotency_key, tenant, wf.idempotency_key), None
        jobs = await insert_nodes(conn, tenant, wf.id, wf.nodes)
    return row, jobs


async def insert_nodes(
    conn: asyncpg.Connection,
    tenant: str,
    workflow_id: uuid.UUID,
    nodes: Sequence[NewNode],
    *,
    first_position: int = 0,
    added: bool = False,
) -> list[asyncpg.Record]:
    """Store nodes of a workflow and the jobs of its plain ones (in the caller's transaction);
    the jobs' rows. `added`: nodes added to it while it runs, after its `first_position` nodes."""
    await conn.execute(
        QUERIES.insert_workflow_nodes,
        workflow_id,
        [n.key for n in nodes],
        [json_text(n.depends_on) for n in nodes],
        [json_text(n.children) for n in nodes],
        [None if n.for_each else n.job.id for n in nodes],
        [n.for_each for n in nodes],
        [json_text(template(n.job)) if n.for_each else None for n in nodes],
        [n.run_at for n in nodes],
        [n.delay_seconds for n in nodes],
        [
            json_text(n.job.params) if n.for_each is None and next(find_refs(n.job.params), None) else None
            for n in nodes
        ],
        first_position,
        added,
    )
    return await _insert_jobs(conn, tenant, workflow_id, [node for node in nodes if node.for_each is None])


async def _insert_jobs(
    conn: asyncpg.Connection, tenant: str, workflow_id: uuid.UUID, nodes: Sequence[NewNode]
) -> list[asyncpg.Record]:
    new = [node.job for node in nodes]
    ids, *rest = job_columns(new)
    rows: list[asyncpg.Record] = await conn.fetch(
        QUERIES.insert_workflow_jobs,
        ids,
        tenant,
        *rest,
        workflow_id,
        [n.key for n in nodes],
        retry_on_column(new),
        [job.template for job in new],
    )
    return rows


def to_summary(row: asyncpg.Record) -> WorkflowSummary:
    """A workflow row as listings show it."""
    return msgspec.convert(_summary_fields(row), WorkflowSummary)


def _summary_fields(row: asyncpg.Record) -> dict[str, Any]:
    fields = dict(row)
    fields["nodes_finished"] = row["nodes_total"] - row["nodes_left"]
    return fields


async def get_workflow(db: Db, tenant: str, workflow_id: uuid.UUID) -> WorkflowView | None:
    """A tenant's workflow with its nodes, or None."""
    row = await db.fetchrow(QUERIES.get_workflow, workflow_id, tenant)
    if row is None:
        return None
    nodes = [msgspec.convert(dict(n), WorkflowNodeView) for n in await db.fetch(QUERIES.get_workflow_nodes, row["id"])]
    retries = [] if not row["retries"] else await db.fetch(QUERIES.get_workflow_retries, row["id"])
    history = [msgspec.convert(dict(r), WorkflowRetryView) for r in retries]
    return msgspec.convert({**_summary_fields(row), "nodes": nodes, "retry_history": history}, WorkflowView)


async def list_workflows(
    db: Db,
    tenant: str,
    *,
    statuses: list[str] | None,
    name: str | None,
    tags: list[str] | None,
    created: tuple[datetime | None, datetime | None],
    after: uuid.UUID | None,
    limit: int,
) -> list[WorkflowSummary]:
    """A page of a tenant's workflows, newest first."""
    rows = await db.fetch(QUERIES.list_workflows, tenant, statuses, name, tags, *created, after, limit)
    return [to_summary(row) for row in rows]


async def delete_workflow(db: Db, tenant: str, workflow_id: uuid.UUID) -> bool:
    """Delete a finished workflow with its nodes and jobs (their events and artifacts too), unless
    a job outside it waits on one of its jobs; whether it was deleted."""
    return await db.fetchval(QUERIES.delete_workflow, workflow_id, tenant) is not None


async def cancel_workflow(pool: asyncpg.Pool, tenant: str, workflow_id: uuid.UUID) -> bool | None:
    """Stop a workflow: nothing of it starts after this returns, and its running jobs are told
    to stop. True if it was running, False if it had finished, None if the tenant has no such one."""
    return await retry_deadlocks(pool, lambda conn: _cancel(conn, tenant, workflow_id))


async def _cancel(conn: asyncpg.Connection, tenant: str, workflow_id: uuid.UUID) -> bool | None:
    running = await conn.fetch(QUERIES.request_cancel_workflow_jobs, workflow_id, tenant)
    if await conn.fetchrow(QUERIES.mark_workflow_cancelled, workflow_id, tenant) is None:
        exists = await conn.fetchrow(QUERIES.get_workflow, workflow_id, tenant)
        return None if exists is None else False
    await conn.execute(QUERIES.cancel_workflow_jobs, workflow_id, CANCEL_NOW)
    for job in running:
        await conn.execute(QUERIES.notify_cancel, str(job["id"]))
    return True
