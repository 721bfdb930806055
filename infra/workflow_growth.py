"""Workflows that grow and recover: nodes added to a running workflow, a finished one run again.

Each function runs in the caller's transaction, after `lock_workflow`: the database orders every
change to a workflow's nodes by that row lock (migration 0016), so what the caller read under it
still holds when it writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from infra.sql import QUERIES
from infra.workflows import NewNode, insert_nodes
from schemas.workflows import NodeState


async def lock_workflow(conn: asyncpg.Connection, tenant: str, workflow_id: uuid.UUID) -> asyncpg.Record | None:
    """A tenant's workflow, its row locked until the transaction ends; None if it has no such one."""
    return await conn.fetchrow(QUERIES.lock_workflow, workflow_id, tenant)


async def node_states(conn: asyncpg.Connection, workflow_id: uuid.UUID) -> list[NodeState]:
    """A workflow's nodes (key, depends_on, status), in submission order."""
    rows = await conn.fetch(QUERIES.get_workflow_graph, workflow_id)
    return [NodeState(key=r["key"], depends_on=list(r["depends_on"]), status=r["status"]) for r in rows]


async def add_nodes(
    conn: asyncpg.Connection, tenant: str, workflow_id: uuid.UUID, nodes: Sequence[NewNode]
) -> list[asyncpg.Record] | None:
    """Add validated nodes to a locked running workflow: counted, stored with their jobs, joined to
    their parents, and started if nothing is left to wait for; the jobs' rows as stored (a new
    root's queued). None, and nothing written, if it has finished or is being cancelled."""
    row = await conn.fetchrow(QUERIES.grow_workflow, workflow_id, len(nodes))
    if row is None:
        return None
    jobs = await insert_nodes(
        conn, tenant, workflow_id, nodes, first_position=row["nodes_total"] - len(nodes), added=True
    )
    await conn.execute(QUERIES.link_added_nodes, workflow_id, [node.key for node in nodes])
    return jobs


async def retry_nodes(
    conn: asyncpg.Connection, workflow_id: uuid.UUID, keys: Sequence[str], requested: Sequence[str] | None
) -> bool:
    """Run a locked finished workflow again from the failed or cancelled nodes `keys`, recording
    the retry with the keys `requested` (None: all); False, and nothing written, if it is not
    failed or cancelled or none of `keys` is a failed or cancelled node."""
    done: bool = await conn.fetchval(
        QUERIES.retry_workflow_nodes, workflow_id, list(keys), None if requested is None else list(requested)
    )
    return done
