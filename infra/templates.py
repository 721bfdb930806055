"""Job template repository: saving versions, reading them by name and version, deleting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.templates import TemplateView


def to_view(row: Mapping[str, Any]) -> TemplateView:
    """A template version's row as the API shows it."""
    fields = {name: row[name] for name in ("name", "version", "description", "created_at", "latest_version")}
    return msgspec.convert({**row["body"], **fields}, TemplateView)


async def save_template(
    pool: asyncpg.Pool, tenant: str, name: str, description: str, body: dict[str, Any]
) -> tuple[asyncpg.Record, bool]:
    """Save a template's body under its name: a new version if it differs from the latest (or
    the name is new); the version's row, and whether it was made (False: the same as the latest)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(QUERIES.lock_template_name, tenant, name)
        latest = await conn.fetchrow(QUERIES.latest_template, tenant, name)
        if latest is not None and (latest["body"], latest["description"]) == (body, description):
            return latest, False
        version = 1 if latest is None else latest["version"] + 1
        return await conn.fetchrow(QUERIES.insert_template, tenant, name, version, description, body), True


async def get_templates(
    db: Db, tenant: str, refs: Sequence[tuple[str, int | None]]
) -> dict[tuple[str, int | None], asyncpg.Record]:
    """The versions these (name, version) pairs name (None: the latest), by pair; missing ones left out."""
    rows = await db.fetch(QUERIES.get_templates, tenant, [n for n, _ in refs], [v for _, v in refs])
    return {refs[row["position"] - 1]: row for row in rows}


async def list_templates(db: Db, tenant: str, *, after: str | None, limit: int) -> list[asyncpg.Record]:
    """A tenant's templates at their latest version, by name, after the name `after`."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.list_templates, tenant, after, limit)
    return rows


async def list_versions(db: Db, tenant: str, name: str) -> list[asyncpg.Record]:
    """Every version of one template, newest first (empty: no such template)."""
    rows: list[asyncpg.Record] = await db.fetch(QUERIES.list_template_versions, tenant, name)
    return rows


async def delete_template(db: Db, tenant: str, name: str) -> bool:
    """Delete every version of a template; whether there was one."""
    return bool(await db.fetchval(QUERIES.delete_template, tenant, name))
