"""A running Conveyor for one test module: its own database and queue prefix."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from infra.db import drop_database
from infra.settings import Settings
from tests.support.system import System, clone_database

#: As the integration conftest's overrides: faster failure detection, so tests wait less.
OVERRIDES: dict[str, Any] = {"relay_grace_seconds": 1.0, "heartbeat_seconds": 0.2, "key_cache_seconds": 1.0}


@asynccontextmanager
async def own_system(
    settings: Settings, template_url: str, workdir: Path, *, threads: int = 4, queues: Sequence[str] = ("general",)
) -> AsyncIterator[System]:
    """Scheduler, gateway and one worker on a fresh database; stopped, queues deleted and the
    database dropped afterwards."""
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    system = System.create(settings, url, workdir, **OVERRIDES)
    try:
        system.start_all(queues=queues, threads=threads)
        yield system
    finally:
        system.close()
        await drop_database(url)
