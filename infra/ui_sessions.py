"""Dashboard sessions: a random id in the browser's cookie, only its hash in PostgreSQL.

A session acts for its API key's tenant with the key's scopes, for as long as the key lives
and the session has not expired or been signed out.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from infra.db import Db
from infra.keys import KNOWN_SCOPES, Principal
from infra.sql import QUERIES
from schemas.keys import Scope


class UiSession(msgspec.Struct, frozen=True):
    """A signed-in browser: who it acts for and the token its forms must send back."""

    principal: Principal
    csrf_token: str


def hash_session_id(session_id: str) -> bytes:
    """The stored form of a session id (256 random bits, so a fast hash is enough)."""
    return hashlib.sha256(session_id.encode()).digest()


async def create_session(db: Db, key_id: uuid.UUID, *, lifetime: timedelta) -> tuple[str, str]:
    """Open a session for a key; its id (for the cookie, not stored) and its CSRF token."""
    await db.execute(QUERIES.delete_expired_ui_sessions)
    session_id, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + lifetime
    await db.execute(QUERIES.insert_ui_session, hash_session_id(session_id), key_id, csrf_token, expires)
    return session_id, csrf_token


async def find_session(db: Db, session_id: str) -> UiSession | None:
    """The live session of a cookie's id, or None (unknown, expired, signed out, key revoked)."""
    row = await db.fetchrow(QUERIES.find_ui_session, hash_session_id(session_id))
    if row is None:
        return None
    scopes = frozenset(Scope(s) for s in row["scopes"] if s in KNOWN_SCOPES)
    return UiSession(Principal(row["key_id"], row["tenant"], scopes), row["csrf_token"])


async def delete_session(db: Db, session_id: str) -> None:
    """Sign out: the session is gone."""
    await db.execute(QUERIES.delete_ui_session, hash_session_id(session_id))
