"""Bearer API keys: who the request acts for (authentication) and what it may do (guards)."""

from __future__ import annotations

import re
import time
from typing import Any

import asyncpg
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Guard

from infra.keys import Principal, find_principal, hash_key
from schemas.errors import FieldError
from schemas.keys import Scope
from services.gateway.errors import ApiError
from services.gateway.ui.session import find_ui


class KeyCache:
    """Looked-up keys for a few seconds, so that each request does not cost a query.

    A revoked key keeps working for at most `ttl` seconds.
    """

    def __init__(self, pool: asyncpg.Pool, *, ttl: float = 10.0, max_entries: int = 10_000) -> None:
        self._pool = pool
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, tuple[float, Principal | None]] = {}

    async def principal(self, secret: str) -> Principal | None:
        """The principal of a key, or None if the key is unknown or revoked."""
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._entries.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await find_principal(self._pool, secret)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[digest] = (now + (self._ttl if principal else min(self._ttl, 2.0)), principal)
        return principal


#: What a dashboard session may read without a bearer key (a browser's EventSource, <img> and
#: <video> cannot send one): the event stream and artifacts' bytes, by GET only.
SESSION_READS = re.compile(r"^/v1/(events/stream|jobs/[0-9a-fA-F-]{36}/artifacts/[^/]+)$")


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """`Authorization: Bearer <key>` on every route but health, schema and the dashboard."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        """The key's principal (for SESSION_READS, also a dashboard session's), or 401."""
        header = connection.headers.get("authorization", "")
        if (
            not header
            and connection.scope.get("method") in ("GET", "HEAD")
            and SESSION_READS.match(connection.url.path)
        ):
            ui = await find_ui(connection)
            if ui is not None:
                structlog.contextvars.bind_contextvars(tenant=ui.principal.tenant)
                return AuthenticationResult(user=ui.principal, auth=ui.principal.key_id)
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthorizedException("missing API key: send 'Authorization: Bearer <key>'")
        cache: KeyCache = connection.app.state.key_cache
        principal = await cache.principal(secret.strip())
        if principal is None:
            raise NotAuthorizedException("invalid or revoked API key")
        structlog.contextvars.bind_contextvars(tenant=principal.tenant)
        return AuthenticationResult(user=principal, auth=principal.key_id)


def requires(scope: Scope) -> Guard:
    """A guard: the key must hold `scope` (or `admin`, which holds them all)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":  # preflight: answered without a key
            return
        principal: Principal = connection.user
        if scope not in principal.scopes and Scope.ADMIN not in principal.scopes:
            raise PermissionDeniedException(f"this API key lacks the '{scope.value}' scope")

    return guard


def tenant_scope(principal: Principal, asked: str | None) -> str | None:
    """The tenant a cross-tenant request acts on: an admin key's choice (None: every tenant);
    any other key's own tenant, and 403 naming `tenant` if it asked for another."""
    if Scope.ADMIN in principal.scopes:
        return asked
    if asked is not None and asked != principal.tenant:
        raise ApiError(
            403, "forbidden", "only an admin key may act on another tenant", [FieldError("tenant", "not your tenant")]
        )
    return principal.tenant
