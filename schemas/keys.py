"""API keys: scopes and how a key is shown."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import msgspec


class Scope(enum.StrEnum):
    """What an API key may do."""

    JOBS_READ = "jobs:read"
    JOBS_WRITE = "jobs:write"
    ADMIN = "admin"


class ApiKeyView(msgspec.Struct, kw_only=True):
    """An API key without its secret."""

    id: uuid.UUID
    tenant: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    revoked_at: datetime | None
