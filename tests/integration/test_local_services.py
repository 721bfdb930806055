"""A fresh machine: nothing runs where the settings point, so Conveyor starts RabbitMQ (with
its console) and PostgreSQL from the machine's packages, and stops only what it started."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pika
from msgspec.structs import replace

from infra.db import with_database
from infra.local.net import free_port, port_open
from infra.local.services import ensure_services
from infra.settings import Settings


def test_services_are_started_when_none_runs_and_stopped_after(settings: Settings) -> None:
    # Given spare ports where nothing listens, and an empty local folder
    local = Path(tempfile.mkdtemp(prefix="conveyor-local-"))
    local.chmod(0o755)  # as root, PostgreSQL runs as the postgres user and must reach its data
    pg_port, amqp_port, console_port = free_port(), free_port(), free_port()
    fresh = replace(
        settings,
        database_url=f"postgresql://postgres@127.0.0.1:{pg_port}/conveyor",
        rabbitmq_url=f"amqp://guest:guest@127.0.0.1:{amqp_port}/%2F",
        rabbitmq_management_url=f"http://127.0.0.1:{console_port}",
        local_dir=str(local),
    )
    ensured = ensure_services(fresh)
    try:
        # Then both were started, with their data in the local folder, and answer
        assert len(ensured.started) == 2 and not ensured.reused
        assert (local / "postgres" / "PG_VERSION").exists() and (local / "rabbitmq" / "mnesia").exists()
        assert asyncio.run(_ping(with_database(fresh.database_url, "postgres"))) == 1
        pika.BlockingConnection(pika.URLParameters(fresh.rabbitmq_url)).close()
        assert port_open("127.0.0.1", console_port)
        # And a second call finds them running and starts nothing
        again = ensure_services(fresh)
        assert again.started == [] and len(again.reused) == 2
    finally:
        ensured.stop_started()
        shutil.rmtree(local, ignore_errors=True)
    assert not port_open("127.0.0.1", pg_port) and not port_open("127.0.0.1", amqp_port)


async def _ping(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()
