"""Receivers that tests run on loopback: a canary that counts every connection it is offered."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from infra.db import drop_database
from infra.local.net import free_port
from infra.settings import Settings
from schemas.keys import Scope
from tests.support.system import System, clone_database

#: As tests.integration.conftest's: faster failure detection than production defaults.
TEST_OVERRIDES = {"relay_grace_seconds": 1.0, "heartbeat_seconds": 0.2, "worker_threads": 4, "key_cache_seconds": 1.0}


class Canary:
    """TCP servers on 127.0.0.1 and [::1] (one port) that count connections and answer any HTTP
    request with 200, so a test can tell whether anything tried to reach it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._servers: list[asyncio.Server] = []

    @property
    def url(self) -> str:
        """Its URL on IPv4 loopback."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> Canary:
        self._servers.append(await asyncio.start_server(self._answer, "127.0.0.1", self.port))
        # no IPv6 loopback on this machine: nothing can reach the canary there either
        with contextlib.suppress(OSError):
            self._servers.append(await asyncio.start_server(self._answer, "::1", self.port))
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


async def start_receiving_system(settings: Settings, template_url: str, workdir: Path, exempt: Canary) -> System:
    """A running system (gateway, scheduler, a `general` worker) whose webhooks may reach `exempt`
    (CONVEYOR_WEBHOOK_ALLOW_PRIVATE). No worker serves `notifications`: the deliveries it makes
    stay queued for the test to read."""
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    overrides = {**TEST_OVERRIDES, "webhook_allow_private": f"127.0.0.1:{exempt.port}"}
    system = System.create(settings, url, workdir, **overrides)
    system.start_all(queues=("general",))
    return system


async def stop_receiving_system(system: System) -> None:
    """Stop a system of start_receiving_system and drop its database."""
    system.close()
    await drop_database(system.settings.database_url)


async def tenant_client(system: System, *, scopes: Sequence[Scope] = tuple(Scope)) -> tuple[str, httpx.AsyncClient]:
    """A new tenant of its own, and a client of `system` acting for it."""
    tenant = f"tenant-{secrets.token_hex(4)}"
    return tenant, system.client(await system.api_key(tenant, scopes))


async def deliveries_of(system: System, tenant: str) -> list[dict[str, Any]]:
    """A tenant's delivery rows, oldest first, each with its notifications job's status,
    engine, operation and params (`job_*`)."""
    pool = await system.pool()
    try:
        rows = await pool.fetch(
            "SELECT d.*, j.status::text AS job_status, j.engine AS job_engine, j.operation AS job_operation,"
            " j.params AS job_params FROM deliveries d JOIN jobs j ON j.id = d.job_id WHERE d.tenant = $1"
            " ORDER BY d.id",
            tenant,
        )
        return [dict(row) for row in rows]
    finally:
        await pool.close()
