"""Jobs that wait for other jobs: linking a new job to its dependencies, and reading the links.

Releasing a dependent happens in the database, in the transaction that finishes its last
dependency (migration 0015); this module only writes the links and reads them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from infra.db import Db
from infra.sql import QUERIES

Link = tuple[uuid.UUID, uuid.UUID]
"""A dependent job's id and the id of one job it depends on."""


async def link_dependencies(conn: asyncpg.Connection, tenant: str, links: Sequence[Link]) -> set[Link]:
    """Link waiting jobs to their dependencies, in the caller's transaction, and count at once
    those already finished; the links made (a dependency that is no job of the tenant's is left
    out, for the caller to refuse)."""
    rows = await conn.fetch(QUERIES.link_dependencies, [job for job, _ in links], [dep for _, dep in links], tenant)
    made = {(row["job_id"], row["dependency_id"]) for row in rows}
    if made:
        await conn.execute(QUERIES.settle_finished_dependencies, sorted({dep for _, dep in made}))
    return made


async def unfinished_dependencies(db: Db, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The dependencies of each of these jobs that have not finished yet (jobs with none left out)."""
    rows = await db.fetch(QUERIES.unfinished_dependencies, list(job_ids))
    return {row["id"]: list(row["ids"]) for row in rows}


async def list_dependents(
    db: Db, tenant: str, job_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    """The jobs that depend on one job, oldest first, after the id `after`."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.list_dependents, job_id, tenant, after, limit)
    return rows
