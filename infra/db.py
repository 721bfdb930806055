"""PostgreSQL: connections and pools with JSON codecs, and database administration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

from infra.settings import Settings
from infra.sql import QUERIES

Db = asyncpg.Pool | asyncpg.Connection
"""Anything repository functions can run a statement on."""

T = TypeVar("T")
DEADLOCK_RETRIES = 5

#: What a statement (or taking a pool connection for it) raises while PostgreSQL cannot serve
#: it: unreachable or refusing connections (OSError: ConnectionRefusedError, reset, DNS),
#: no answer in time (TimeoutError, which asyncio.TimeoutError is; also a pool's acquire
#: timeout), a session that broke or was closed under us, a server shutting down, crashing,
#: starting up or cancelling on an operator's order, or out of connection slots. Trying
#: again later can succeed; the gateway answers 503, the loops wait and retry.
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # includes ConnectionDoesNotExistError
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin/crash shutdown, cannot connect now
    asyncpg.exceptions.TooManyConnectionsError,
)

#: What a statement raises when running it again may succeed: UNAVAILABLE, or chosen as a
#: deadlock victim. A deadlock is not an outage (the server is fine), so the gateway does not
#: answer 503 for one; loops that retry a statement retry it.
RETRYABLE = (*UNAVAILABLE, asyncpg.exceptions.DeadlockDetectedError)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or the exception it was raised from, says PostgreSQL is unavailable."""
    return isinstance(exc, UNAVAILABLE) or isinstance(exc.__cause__, UNAVAILABLE)


def json_text(value: Any) -> str:
    """A value as JSON text (what the json and jsonb codecs send)."""
    return msgspec.json.encode(value).decode()


async def init_connection(conn: asyncpg.Connection) -> None:
    """Decode and encode json/jsonb with msgspec."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json_text, decoder=msgspec.json.decode, schema="pg_catalog")


async def keep_session(conn: asyncpg.Connection) -> None:
    """Pool connections carry no session state (no SET, LISTEN or advisory lock; those get
    connections of their own), so releasing one skips asyncpg's reset round trip."""


async def connect(url: str, *, application_name: str = "conveyor", timeout: float = 10.0) -> asyncpg.Connection:
    """One connection, codecs installed."""
    conn = await asyncpg.connect(url, timeout=timeout, server_settings={"application_name": application_name})
    await init_connection(conn)
    return conn


async def create_pool(
    settings: Settings,
    *,
    application_name: str,
    min_size: int = 1,
    max_size: int | None = None,
    session: dict[str, str] | None = None,
) -> asyncpg.Pool:
    """A pool of codec-equipped connections to the Conveyor database (`session`: more settings
    of each connection's session)."""
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=min_size,
        max_size=max_size or settings.db_pool_size,
        init=init_connection,
        reset=keep_session,
        server_settings={"application_name": application_name, **(session or {})},
        timeout=10.0,
        command_timeout=60.0,
    )
    assert pool is not None
    return pool


def with_database(url: str, database: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def database_of(url: str) -> str:
    """The database a URL names."""
    return urlsplit(url).path.lstrip("/") or "postgres"


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str, *, template: str | None = None) -> bool:
    """Create the database `url` names if it does not exist; True if it was created."""
    name = database_of(url)
    admin = await connect(with_database(url, "postgres"), application_name="conveyor-admin")
    try:
        if await admin.fetchval(QUERIES.database_exists, name):
            return False
        # CREATE DATABASE takes no parameters; the names are quoted identifiers.
        suffix = f" TEMPLATE {quote_ident(template)}" if template else ""
        try:
            await admin.execute(f"CREATE DATABASE {quote_ident(name)}{suffix}")
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    """Drop the database `url` names, closing its sessions."""
    admin = await connect(with_database(url, "postgres"), application_name="conveyor-admin")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(database_of(url))} WITH (FORCE)")
    finally:
        await admin.close()


async def retry_deadlocks(pool: asyncpg.Pool, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run `work` in a transaction, again if PostgreSQL chose it as a deadlock victim."""
    for attempt in range(DEADLOCK_RETRIES):
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)
        except asyncpg.exceptions.DeadlockDetectedError:
            if attempt == DEADLOCK_RETRIES - 1:
                raise
    raise AssertionError("unreachable")
