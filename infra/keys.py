"""API keys: minted here, stored as SHA-256 hashes, looked up by hash."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from infra.db import Db
from infra.sql import QUERIES
from schemas.keys import ApiKeyView, Scope

KEY_PREFIX = "cvk_"
KNOWN_SCOPES = frozenset(scope.value for scope in Scope)


class Principal(msgspec.Struct, frozen=True):
    """Who a request acts for."""

    key_id: uuid.UUID
    tenant: str
    scopes: frozenset[Scope]


def hash_key(secret: str) -> bytes:
    """The stored form of a key. Keys are 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    """A new key secret."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_key(db: Db, tenant: str, scopes: Sequence[Scope], *, name: str = "") -> tuple[ApiKeyView, str]:
    """Mint and store a key; the view and the secret, which is shown only now."""
    secret = new_secret()
    row = await db.fetchrow(
        QUERIES.insert_api_key,
        uuid.uuid4(),
        tenant,
        name,
        secret[: len(KEY_PREFIX) + 6],
        hash_key(secret),
        [s.value for s in scopes],
    )
    return _view(row), secret


async def find_principal(db: Db, secret: str) -> Principal | None:
    """The principal of a live key, or None."""
    row = await db.fetchrow(QUERIES.find_api_key, hash_key(secret))
    if row is None:
        return None
    return Principal(row["id"], row["tenant"], frozenset(Scope(s) for s in row["scopes"] if s in KNOWN_SCOPES))


async def key_is_live(db: Db, key_id: uuid.UUID) -> bool:
    """Whether a key is neither revoked nor deleted."""
    return bool(await db.fetchval(QUERIES.api_key_is_live, key_id))


async def list_keys(db: Db, tenant: str | None = None) -> list[ApiKeyView]:
    """Keys (without secrets), newest first."""
    return [_view(row) for row in await db.fetch(QUERIES.list_api_keys, tenant)]


async def revoke_key(db: Db, key_id: uuid.UUID) -> ApiKeyView | None:
    """Revoke a key; None if there is no such key."""
    row = await db.fetchrow(QUERIES.revoke_api_key, key_id)
    return None if row is None else _view(row)


def _view(row: asyncpg.Record) -> ApiKeyView:
    return msgspec.convert(dict(row), ApiKeyView)
