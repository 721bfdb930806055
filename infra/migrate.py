"""Forward-only schema migrations, applied in order and recorded in `schema_migrations`."""

from __future__ import annotations

import asyncpg
import structlog

from infra.sql import QUERIES, migration_files

log = structlog.get_logger(__name__)


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction; the versions applied."""
    await conn.execute(QUERIES.lock_migrations)
    try:
        await conn.execute(QUERIES.create_migrations_table)
        applied = {row["version"] for row in await conn.fetch(QUERIES.applied_migrations)}
        done: list[str] = []
        for version, path in migration_files():
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(QUERIES.record_migration, version, path.name)
            log.info("migration_applied", version=version, file=path.name)
            done.append(version)
        return done
    finally:
        await conn.execute(QUERIES.unlock_migrations)
