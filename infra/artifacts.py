"""Artifacts repository: chunked binary outputs of jobs, written by workers, read in ranges."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import asyncpg
import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.artifacts import ArtifactInput, ArtifactView, ByteRange

#: Bytes per stored chunk: what one row, and a reader, holds at a time.
CHUNK_BYTES = 1 << 20


async def begin(pool: asyncpg.Pool, job_id: uuid.UUID, name: str, content_type: str, attempt: int) -> bool:
    """Start writing an artifact for the running attempt `attempt` (replacing one of the same
    name); False if the job no longer runs that attempt."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(QUERIES.begin_artifact, job_id, name, content_type, CHUNK_BYTES, attempt) is None:
            return False
        await conn.execute(QUERIES.clear_artifact_chunks, job_id, name)
        return True


async def add_chunk(pool: asyncpg.Pool, job_id: uuid.UUID, name: str, seq: int, data: bytes, attempt: int) -> bool:
    """Store chunk `seq`; False if another attempt has taken the artifact over."""
    return await pool.fetchval(QUERIES.add_artifact_chunk, job_id, name, seq, data, attempt) is not None


async def finish(pool: asyncpg.Pool, job_id: uuid.UUID, name: str, size: int, sha256: str, attempt: int) -> bool:
    """Record the size and digest, which makes the artifact visible; False as add_chunk."""
    return await pool.fetchval(QUERIES.finish_artifact, job_id, name, size, sha256, attempt) is not None


async def list_artifacts(db: Db, job_id: uuid.UUID, tenant: str) -> list[ArtifactView]:
    """A tenant's job's finished artifacts, by name."""
    return [msgspec.convert(dict(row), ArtifactView) for row in await db.fetch(QUERIES.list_artifacts, job_id, tenant)]


async def get_artifact(db: Db, job_id: uuid.UUID, tenant: str, name: str) -> asyncpg.Record | None:
    """A finished artifact's row (with chunk_bytes), or None."""
    row: asyncpg.Record | None = await db.fetchrow(QUERIES.get_artifact, job_id, tenant, name)
    return row


async def read(db: Db, job_id: uuid.UUID, name: str, chunk_bytes: int, span: ByteRange) -> AsyncIterator[bytes]:
    """The bytes of `span`, a chunk at a time."""
    for seq in range(span.start // chunk_bytes, span.end // chunk_bytes + 1):
        data: bytes | None = await db.fetchval(QUERIES.artifact_chunk, job_id, name, seq)
        if data is None:  # deleted meanwhile (retention): the response ends short
            return
        offset = seq * chunk_bytes
        yield data[max(0, span.start - offset) : span.end - offset + 1]


async def find(pool: asyncpg.Pool, job_id: uuid.UUID, tenant: str, name: str) -> asyncpg.Record | None:
    """A finished artifact of a tenant's job, for a worker that reads it as an input; or None."""
    row: asyncpg.Record | None = await pool.fetchrow(QUERIES.get_artifact, job_id, tenant, name)
    return row


async def chunk(pool: asyncpg.Pool, job_id: uuid.UUID, name: str, seq: int) -> bytes | None:
    """Chunk `seq` of an artifact, or None if it is gone."""
    data: bytes | None = await pool.fetchval(QUERIES.artifact_chunk, job_id, name, seq)
    return data


async def artifacts_present(
    pool: asyncpg.Pool, tenant: str, refs: Sequence[ArtifactInput]
) -> set[tuple[uuid.UUID, str]]:
    """Which of these artifacts are finished artifacts of the tenant's jobs, as (job id, name)."""
    rows = await pool.fetch(QUERIES.artifacts_present, tenant, [ref.job_id for ref in refs], [ref.name for ref in refs])
    return {(row["job_id"], row["name"]) for row in rows}
