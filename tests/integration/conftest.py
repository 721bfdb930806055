"""Integration fixtures: real RabbitMQ and PostgreSQL, real Conveyor processes.

Every system (gateway + workers + scheduler) gets a database cloned from a migrated template
and its own queue prefix; its queues are deleted and its database dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from infra.db import drop_database
from infra.local.net import free_port
from infra.local.postgres import LocalPostgres
from infra.local.rabbitmq import LocalRabbitMQ
from infra.settings import Settings
from tests.support.browser import chromium
from tests.support.receivers import Canary, start_receiving_system, stop_receiving_system
from tests.support.system import System, base_settings, clone_database, create_template

#: Faster failure detection than production defaults, so tests wait less.
TEST_OVERRIDES: dict[str, Any] = {
    "relay_grace_seconds": 1.0,
    "heartbeat_seconds": 0.2,
    "worker_threads": 4,
    "key_cache_seconds": 1.0,
    "diagnostics": True,  # general.block, for the drain tests
}

MakeSystem = Callable[..., Awaitable[System]]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Where the shared RabbitMQ and PostgreSQL are (CONVEYOR_* variables or the defaults)."""
    return base_settings()


@pytest.fixture(scope="session")
async def template_url(settings: Settings) -> AsyncIterator[str]:
    """A database migrated from scratch, cloned by every test database."""
    url = await create_template(settings, f"conveyor_test_template_{os.getpid()}")
    yield url
    await drop_database(url)


@pytest.fixture
async def database_url(template_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    yield url
    await drop_database(url)


async def _make(settings: Settings, template_url: str, workdir: Path, **overrides: Any) -> tuple[System, str]:
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    return System.create(settings, url, workdir, **{**TEST_OVERRIDES, **overrides}), url


@pytest.fixture
async def make_system(
    settings: Settings, template_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[MakeSystem]:
    """A factory of systems of this test's own (nothing started until the test starts it)."""
    made: list[tuple[System, str]] = []

    async def make(template: str | None = None, **overrides: Any) -> System:
        system, url = await _make(settings, template or template_url, tmp_path / f"system{len(made)}", **overrides)
        made.append((system, url))
        return system

    yield make
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for system, url in made:
        if failed:
            print(system.log_tail())
        system.close()
        await drop_database(url)


@pytest.fixture(scope="session")
async def shared_system(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """One running Conveyor for the tests that only need the API and a worker.

    Tests keep out of each other's way by using a tenant of their own (`client`).
    """
    system, url = await _make(settings, template_url, tmp_path_factory.mktemp("shared"))
    system.start_all(queues=(), threads=8)
    yield system
    system.close()
    await drop_database(url)


@pytest.fixture
async def client(shared_system: System, request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the shared system, acting for a tenant of this test's own."""
    key = await shared_system.api_key(f"tenant-{secrets.token_hex(4)}")
    async with shared_system.client(key) as http:
        yield http
    if getattr(request.node, "report_call", None) is not None and request.node.report_call.failed:
        print(shared_system.log_tail())


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[LocalRabbitMQ]:
    """A RabbitMQ node of this test's own on spare ports, which the test may stop and start."""
    node = LocalRabbitMQ(tmp_path / "rabbitmq", free_port(), free_port(), free_port())
    node.start()
    yield node
    node.stop()


@pytest.fixture
def private_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL server of this test's own on a spare port, which the test may stop and start."""
    # Outside pytest's private temporary folder: as root, the server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="conveyor-postgres-"))
    base.chmod(0o755)
    server = LocalPostgres(base / "data", free_port())
    server.start()
    yield server
    server.stop(mode="immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def canary() -> AsyncIterator[Canary]:
    """A loopback receiver that counts the connections it is offered."""
    async with Canary() as receiver:
        yield receiver


@pytest.fixture(scope="session")
async def receiving(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory, canary: Canary
) -> AsyncIterator[System]:
    """A system whose webhooks may reach the canary; its deliveries stay queued (tests of
    subscriptions and notify share it, each with tenants of its own)."""
    system = await start_receiving_system(settings, template_url, tmp_path_factory.mktemp("receiving"), canary)
    yield system
    await stop_receiving_system(system)


# The dashboard's browser tests: each module runs its own `dashboard` system and names its TENANT.


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Chromium, shared by a module's tests (each gets a context of its own)."""
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
async def admin_key(dashboard: System, request: pytest.FixtureRequest) -> str:
    """A key with every scope, for the module's TENANT on its `dashboard`."""
    return await dashboard.api_key(request.module.TENANT)


@pytest.fixture
async def api(dashboard: System, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API, with the admin key."""
    async with dashboard.client(admin_key) as client:
        yield client
