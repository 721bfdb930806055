"""The server commands of `conveyor`: run the gateway, workers and scheduler; migrate; manage API keys; run it all."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from pathlib import Path

import structlog

from infra import keys
from infra.db import connect, ensure_database
from infra.local.postgres import ServiceError
from infra.local.services import Ensured, ensure_services, local_postgres, local_rabbitmq
from infra.logging import configure_logging
from infra.migrate import migrate
from infra.settings import Settings, SettingsError, load_settings
from schemas.engines import QUEUES
from schemas.keys import Scope
from services.supervisor import Supervisor, python

log = structlog.get_logger("conveyor.cli")
DEV_KEY_FILE = "dev-api-key"
#: How long a stopping gateway lets requests finish; event streams, which never do, are cut
#: then (their clients resume from their last event id on another gateway, or this one again).
GATEWAY_GRACE_SECONDS = 5


def cmd_gateway(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the HTTP API."""
    import uvicorn

    uvicorn.run(
        "services.gateway.app:app_from_environment",
        factory=True,
        host=args.host or settings.gateway_host,
        port=args.port or settings.gateway_port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GATEWAY_GRACE_SECONDS,
    )
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run worker processes for some queues, restarting any that dies."""
    supervisor = Supervisor(stop_timeout=settings.shutdown_timeout_seconds + 10)
    queues = args.queues or list(QUEUES)
    for index in range(args.processes):
        argv = python(
            "-m",
            "actors.worker",
            "--threads",
            str(args.threads or settings.worker_threads),
            "--queues",
            *queues,
        )
        supervisor.add(f"worker-{index + 1}", argv)
    return supervisor.run()


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    """Run a scheduler (one of several may lead)."""
    from services.scheduler import Scheduler

    async def run() -> None:
        scheduler = Scheduler(settings)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, scheduler.stopping.set)
        await scheduler.run()

    asyncio.run(run())
    return 0


async def _migrate(settings: Settings) -> list[str]:
    if await ensure_database(settings.database_url):
        log.info("database_created", url=settings.database_url.rsplit("@", 1)[-1])
    conn = await connect(settings.database_url, application_name="conveyor-migrate")
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Create the database if needed and apply pending migrations."""
    applied = asyncio.run(_migrate(settings))
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else "; schema is current"))
    return 0


async def _with_db(settings: Settings, work):  # type: ignore[no-untyped-def]
    conn = await connect(settings.database_url, application_name="conveyor-cli")
    try:
        return await work(conn)
    finally:
        await conn.close()


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    """Create, list or revoke API keys."""
    if args.keys_command == "create":
        scopes = [Scope(s.strip()) for s in args.scopes.split(",") if s.strip()]
        view, secret = asyncio.run(
            _with_db(settings, lambda c: keys.create_key(c, args.tenant, scopes, name=args.name))
        )
        print(
            f"key {view.id} for tenant {view.tenant!r}, scopes {','.join(view.scopes)}; store it now, it is shown once:"
        )
        print(secret)
    elif args.keys_command == "list":
        for view in asyncio.run(_with_db(settings, lambda c: keys.list_keys(c, args.tenant))):
            state = "revoked" if view.revoked_at else "live"
            print(f"{view.id}  {view.tenant:<20} {view.prefix}…  {','.join(view.scopes):<30} {state}  {view.name}")
    else:
        revoked = asyncio.run(_with_db(settings, lambda c: keys.revoke_key(c, uuid.UUID(args.id))))
        if revoked is None:
            print(f"no key {args.id}", file=sys.stderr)
            return 1
        print(f"revoked key {revoked.id} of tenant {revoked.tenant!r}")
    return 0


def cmd_services(settings: Settings, args: argparse.Namespace) -> int:
    """Make RabbitMQ and PostgreSQL reachable (start them locally if needed), or stop ours."""
    if args.stop:
        for service in (local_rabbitmq(settings), local_postgres(settings)):
            service.stop()
        print("stopped the services Conveyor started (if any)")
        return 0
    ensured = ensure_services(settings, test_tools=args.test_tools)
    for line in ensured.reused:
        print(f"found {line}")
    for service in ensured.started:
        print(f"started {type(service).__name__} (data in {service.data_dir})")
    return 0


async def _dev_key(settings: Settings) -> str:
    """The development API key kept in the local folder, minted if missing or revoked."""
    path = Path(settings.local_dir) / DEV_KEY_FILE
    conn = await connect(settings.database_url, application_name="conveyor-cli")
    try:
        if path.exists() and await keys.find_principal(conn, path.read_text().strip()):
            return path.read_text().strip()
        _, secret = await keys.create_key(conn, "dev", list(Scope), name="development key (conveyor up)")
    finally:
        await conn.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """Development: services, migrations, then gateway + a worker per queue + scheduler."""
    ensured = Ensured()
    try:
        ensured = ensure_services(settings)
        asyncio.run(_migrate(settings))
        key = asyncio.run(_dev_key(settings))
        supervisor = Supervisor(stop_timeout=settings.shutdown_timeout_seconds + 10)
        supervisor.add("gateway", python("-m", "services.cli", "gateway"))
        supervisor.add("scheduler", python("-m", "services.cli", "scheduler"))
        for queue in QUEUES:
            supervisor.add(
                f"worker-{queue}",
                python("-m", "actors.worker", "--threads", str(args.threads), "--queues", queue),
            )
        gateway = f"http://{settings.gateway_host}:{settings.gateway_port}"
        print(
            f"\nConveyor is starting.\n  gateway          {gateway}  (OpenAPI: {gateway}/schema)\n"
            f"  RabbitMQ console {settings.rabbitmq_management_url}  (guest / guest)\n"
            f"  API key (dev)    {key}\n\nCtrl+C stops everything this command started.\n",
            flush=True,
        )
        return supervisor.run()
    finally:
        ensured.stop_started()


def add_server_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands that run Conveyor itself (they read `CONVEYOR_*` settings)."""
    gw = sub.add_parser("gateway", help=cmd_gateway.__doc__)
    gw.add_argument("--host")
    gw.add_argument("--port", type=int)
    gw.add_argument("--workers", type=int, default=1, help="gateway processes")
    wk = sub.add_parser("worker", help=cmd_worker.__doc__)
    wk.add_argument("--queues", "-Q", nargs="+", choices=QUEUES, metavar="QUEUE", help="default: every queue")
    wk.add_argument("--processes", "-p", type=int, default=1)
    wk.add_argument("--threads", "-t", type=int, help="default: CONVEYOR_WORKER_THREADS")
    sub.add_parser("scheduler", help=cmd_scheduler.__doc__)
    sub.add_parser("migrate", help=cmd_migrate.__doc__)
    ky = sub.add_parser("keys", help=cmd_keys.__doc__)
    kys = ky.add_subparsers(dest="keys_command", required=True)
    create = kys.add_parser("create", help="mint a key; the secret is the last line printed")
    create.add_argument("--tenant", required=True)
    create.add_argument("--scopes", default="jobs:read,jobs:write", help=f"comma-separated: {', '.join(Scope)}")
    create.add_argument("--name", default="")
    listing = kys.add_parser("list", help="list keys (no secrets)")
    listing.add_argument("--tenant")
    revoke = kys.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id")
    sv = sub.add_parser("services", help=cmd_services.__doc__)
    sv.add_argument("--stop", action="store_true", help="stop the RabbitMQ and PostgreSQL Conveyor started")
    sv.add_argument(
        "--test-tools", action="store_true", help="also install what the test suite drives (Chromium, tmux)"
    )
    up = sub.add_parser("up", help=cmd_up.__doc__)
    up.add_argument("--threads", type=int, default=4, help="threads of each queue's worker")


SERVER_COMMANDS = {
    "gateway": cmd_gateway,
    "worker": cmd_worker,
    "scheduler": cmd_scheduler,
    "migrate": cmd_migrate,
    "keys": cmd_keys,
    "services": cmd_services,
    "up": cmd_up,
}


def run_server_command(args: argparse.Namespace) -> int:
    """Run one server command with the settings from the environment."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"conveyor: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings, process=args.command)
    try:
        return SERVER_COMMANDS[args.command](settings, args)
    except (ServiceError, ValueError) as exc:
        print(f"conveyor {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
