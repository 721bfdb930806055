"""A whole Conveyor (gateway, workers, scheduler) as real processes, for tests and benchmarks.

Each System has its own database (cloned from a migrated template) and its own queue prefix,
so several run side by side on one RabbitMQ and one PostgreSQL without seeing each other.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pika
from msgspec.structs import replace

from infra import keys
from infra.broker import queue_declarations
from infra.db import connect, create_pool, drop_database, ensure_database, with_database
from infra.local.net import free_port
from infra.migrate import migrate
from infra.settings import Settings, load_settings, to_environ
from schemas.keys import Scope

ROOT = Path(__file__).resolve().parents[2]


def base_settings() -> Settings:
    """Settings from the environment (where RabbitMQ and PostgreSQL are), JSON logs."""
    return replace(load_settings(), log_format="json", log_level="INFO")


async def create_template(settings: Settings, name: str) -> str:
    """A migrated database to clone test databases from; its URL."""
    url = with_database(settings.database_url, name)
    await drop_database(url)
    await ensure_database(url)
    conn = await connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def clone_database(template_url: str, name: str) -> str:
    """A fresh database cloned from the template; its URL."""
    url = with_database(template_url, name)
    await ensure_database(url, template=template_url.rsplit("/", 1)[-1])
    return url


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.05, message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; that value. AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


async def eventually(predicate: Any, *, timeout: float, interval: float = 0.05, message: str = "condition") -> Any:
    """Await `predicate()` until it returns something truthy; that value. AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(interval)


@dataclass
class System:
    """Conveyor's processes on one database and queue prefix."""

    settings: Settings
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, database_url: str, workdir: Path, **overrides: Any) -> System:
        """A system on its own database and a fresh queue prefix (nothing started yet)."""
        prefix = f"t{secrets.token_hex(3)}_"
        configured = replace(
            settings, database_url=database_url, queue_prefix=prefix, gateway_port=free_port(), **overrides
        )
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(configured, workdir)

    # -- processes ---------------------------------------------------------------------------

    def environment(self, **overrides: Any) -> dict[str, str]:
        """The environment of a child process."""
        settings = replace(self.settings, **overrides)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        return {**env, **to_environ(settings), "PYTHONUNBUFFERED": "1"}

    def spawn(self, name: str, argv: Sequence[str], **overrides: Any) -> subprocess.Popen[bytes]:
        """Start a child process, its output in `<workdir>/<name>.log`."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it
        process = subprocess.Popen(list(argv), env=self.environment(**overrides), stdout=log, stderr=log, cwd=ROOT)
        log.close()
        self.processes[name] = process
        return process

    def start_gateway(self, name: str = "gateway") -> None:
        """`conveyor gateway`, waiting until it answers /healthz."""
        self.spawn(name, [sys.executable, "-m", "services.cli", "gateway"])
        wait_until(self._healthy, timeout=30, message="the gateway to answer /healthz")

    def start_worker(
        self, name: str = "worker", *, queues: Sequence[str] = (), threads: int = 4, **overrides: Any
    ) -> None:
        """One worker process (`python -m actors.worker`), as `conveyor worker` runs it."""
        argv = [sys.executable, "-m", "actors.worker", "--threads", str(threads)]
        if queues:
            argv += ["--queues", *queues]
        self.spawn(name, argv, **overrides)

    def start_supervised_workers(
        self, name: str = "workers", *, queues: Sequence[str] = (), processes: int = 1, threads: int = 4
    ) -> None:
        """`conveyor worker`, which restarts worker processes that die."""
        argv = [
            sys.executable,
            "-m",
            "services.cli",
            "worker",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        if queues:
            argv += ["--queues", *queues]
        self.spawn(name, argv)

    def start_all(self, *, queues: Sequence[str] = ("general",), threads: int = 4) -> None:
        """Scheduler, one worker for `queues` (all of them if empty) and gateway; returns once
        the worker consumes."""
        self.start_scheduler()
        self.start_worker(queues=queues, threads=threads)
        self.start_gateway()
        self.wait_for_consumers("general")

    def start_supervised_all(self, *, queues: Sequence[str] = ("general",), threads: int = 4) -> None:
        """As start_all, but the worker is `conveyor worker` (one process, restarted when it dies)."""
        self.start_scheduler()
        self.start_supervised_workers(queues=queues, processes=1, threads=threads)
        self.start_gateway()
        self.wait_for_consumers(queues[0])

    def start_scheduler(self, name: str = "scheduler") -> None:
        """`conveyor scheduler`."""
        self.spawn(name, [sys.executable, "-m", "services.cli", "scheduler"])

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        """Signal a child and wait for it to exit; its exit code."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def close(self) -> None:
        """Stop every child and delete this system's queues."""
        for name in list(self.processes):
            self.stop(name, timeout=15)
        self.delete_queues()

    # -- observation -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The gateway's URL."""
        return f"http://127.0.0.1:{self.settings.gateway_port}"

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        """Whether /readyz says PostgreSQL and RabbitMQ are reachable."""
        try:
            return httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines a child wrote so far."""
        lines = []
        for line in (self.workdir / f"{name}.log").read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return lines

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of every child's log (for failing tests)."""
        out = []
        for path in sorted(self.workdir.glob("*.log")):
            out.append(f"--- {path.name}")
            out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def queue_depth(self, queue: str) -> int:
        """Ready messages in one of this system's queues (`general`, `general.XQ`, …)."""
        connection = pika.BlockingConnection(pika.URLParameters(self.settings.rabbitmq_url))
        try:
            channel = connection.channel()
            return int(channel.queue_declare(self.settings.queue_prefix + queue, passive=True).method.message_count)
        finally:
            connection.close()

    def consumers(self, queue: str) -> int:
        """Consumers of one of this system's queues."""
        connection = pika.BlockingConnection(pika.URLParameters(self.settings.rabbitmq_url))
        try:
            channel = connection.channel()
            return int(channel.queue_declare(self.settings.queue_prefix + queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            if connection.is_open:
                connection.close()

    def wait_for_consumers(self, queue: str = "general", count: int = 1, timeout: float = 30) -> None:
        """Wait until workers consume a queue."""
        wait_until(
            lambda: self.consumers(queue) >= count,
            timeout=timeout,
            interval=0.2,
            message=f"{count} consumer(s) of {queue}",
        )

    def dead_letters(self, queue: str = "general") -> list[str]:
        """Message ids in a queue's dead-letter queue (read, then put back)."""
        connection = pika.BlockingConnection(pika.URLParameters(self.settings.rabbitmq_url))
        try:
            channel = connection.channel()
            ids, tags = [], []
            while True:
                method, _, body = channel.basic_get(self.settings.queue_prefix + queue + ".XQ")
                if method is None:
                    break
                ids.append(json.loads(body)["message_id"])
                tags.append(method.delivery_tag)
            for tag in tags:
                channel.basic_nack(tag, requeue=True)
            return ids
        finally:
            connection.close()

    def delete_queues(self) -> None:
        """Delete every queue of this system."""
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.settings.rabbitmq_url))
        except pika.exceptions.AMQPError:
            return
        try:
            channel = connection.channel()
            for name, _ in queue_declarations(self.settings):
                channel.queue_delete(name)
        finally:
            if connection.is_open:
                connection.close()

    # -- data --------------------------------------------------------------------------------

    async def pool(self) -> asyncpg.Pool:
        """A pool on this system's database."""
        return await create_pool(self.settings, application_name="conveyor-test", max_size=4)

    async def api_key(self, tenant: str, scopes: Sequence[Scope] = tuple(Scope)) -> str:
        """A new API key for a tenant."""
        conn = await connect(self.settings.database_url)
        try:
            _, secret = await keys.create_key(conn, tenant, list(scopes))
            return secret
        finally:
            await conn.close()

    async def cli(self, *args: str) -> str:
        """Run `conveyor <args>` against this system; its standard output (fails on a non-zero exit)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", *args, env=self.environment(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        assert process.returncode == 0, f"conveyor {' '.join(args)} exited {process.returncode}: {err.decode()}"
        return out.decode()

    def client(self, key: str | None) -> httpx.AsyncClient:
        """An HTTP client for the gateway, with the key as bearer token."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)
