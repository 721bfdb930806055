"""`conveyor up` (what `make up` runs): everything in the foreground, restarted if it dies,
stopped by Ctrl+C."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
from msgspec.structs import replace

from infra.db import connect, drop_database, with_database
from infra.local.net import free_port
from infra.settings import Settings, to_environ
from schemas.engines import QUEUES
from tests.support.api import submit, wait_for_status
from tests.support.system import ROOT, System, eventually

WORKERS = (
    "SELECT application_name FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name LIKE 'conveyor-worker:%'"
)


async def test_up_runs_everything_restarts_a_dead_worker_and_stops_on_ctrl_c(
    settings: Settings, tmp_path: Path
) -> None:
    # Given a database that does not exist yet, and a spare gateway port
    configured = replace(
        settings,
        database_url=with_database(settings.database_url, f"conveyor_up_{secrets.token_hex(3)}"),
        queue_prefix=f"up{secrets.token_hex(2)}_",
        gateway_port=free_port(),
        local_dir=str(tmp_path / "local"),
    )
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}, **to_environ(configured)}
    out = open(tmp_path / "up.log", "wb")  # noqa: SIM115, ASYNC230 - the child writes to it
    up = subprocess.Popen(  # noqa: ASYNC220 - starting a process does not wait for it
        [sys.executable, "-m", "services.cli", "up", "--threads", "2"], env=env, stdout=out, stderr=out, cwd=ROOT
    )
    try:
        # When `conveyor up` runs, Then it prints the gateway, the console and a development key
        async def printed() -> str | None:
            match = re.search(r"API key \(dev\)\s+(\S+)", (tmp_path / "up.log").read_text(errors="replace"))
            return match.group(1) if match else None

        key = await eventually(printed, timeout=60, interval=0.2, message="the development key")
        text = (tmp_path / "up.log").read_text()
        assert (
            f"http://{configured.gateway_host}:{configured.gateway_port}" in text
            and configured.rabbitmq_management_url in text
        )
        base = f"http://127.0.0.1:{configured.gateway_port}"
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
            await eventually(lambda: _healthy(http), timeout=30, interval=0.2, message="the gateway")
            job = await submit(http, "echo", {"value": "up"})
            assert (await wait_for_status(http, job["id"], "succeeded", timeout=30))["result"] == {"value": "up"}

        # And a worker for every queue, restarted when one is killed
        conn = await connect(configured.database_url)
        try:
            first = await eventually(
                lambda: _workers(conn, len(QUEUES)), timeout=30, interval=0.2, message="a worker per queue"
            )
            victim = sorted(first)[0]
            os.kill(int(victim.rsplit("-", 2)[-2]), signal.SIGKILL)

            async def replaced() -> bool:
                now = await _workers(conn, len(QUEUES))
                return bool(now) and victim not in now

            await eventually(replaced, timeout=30, interval=0.2, message="the killed worker to be replaced")
        finally:
            await conn.close()

        # When Ctrl+C, Then every process it started stops
        up.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(up.wait, 60) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        out.close()
        await drop_database(configured.database_url)
        System(configured, tmp_path).delete_queues()
    # And the stop was clean: nothing logged as an error, no traceback
    log = (tmp_path / "up.log").read_text()
    assert "processes_stopped" in log
    assert '"level": "error"' not in log and "Traceback" not in log, log[-3000:]


def test_up_on_a_busy_port_exits_with_one_clear_line(settings: Settings, tmp_path: Path) -> None:
    # Given a port another program listens on
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        port = held.getsockname()[1]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}, **to_environ(settings)}
        # When `conveyor up --port` is given it
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "up", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
    # Then it exits at once with one line naming the port and what to do, starting nothing
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"conveyor up: port {port} on 127.0.0.1 is in use by another program; "
        "choose another with --port (or CONVEYOR_GATEWAY_PORT), or stop that program"
    ]
    assert "Conveyor is starting" not in done.stdout


async def _healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _workers(conn: asyncpg.Connection, expected: int) -> set[str] | None:
    names = {row[0].removeprefix("conveyor-worker:") for row in await conn.fetch(WORKERS)}
    return names if len(names) == expected else None
