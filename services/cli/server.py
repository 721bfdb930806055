"""The server commands of `conveyor`: run the gateway, workers and scheduler; migrate; manage API keys; run it all."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
from pathlib import Path

import asyncpg
import structlog

from infra import keys
from infra.db import UNAVAILABLE, connect, ensure_database
from infra.local.net import host_port, port_free
from infra.local.postgres import ServiceError
from infra.local.services import Ensured, ensure_services, local_postgres, local_rabbitmq
from infra.logging import configure_logging
from infra.migrate import migrate
from infra.settings import Settings, SettingsError, load_settings
from schemas.engines import QUEUES
from schemas.keys import Scope
from services.cli.help import Subcommands
from services.cli.help import command as _command
from services.cli.keys import add_keys_command, cmd_keys
from services.supervisor import CANNOT_START, Supervisor, python

log = structlog.get_logger("conveyor.cli")
DEV_KEY_FILE = "dev-api-key"
#: How long a stopping gateway lets requests finish; event streams, which never do, are cut
#: then (their clients resume from their last event id on another gateway, or this one again).
GATEWAY_GRACE_SECONDS = 5


def cmd_gateway(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the HTTP API, the dashboard and the metrics."""
    import uvicorn

    host, port = args.host or settings.gateway_host, args.port or settings.gateway_port
    if not port_free(host, port):
        print(f"conveyor gateway: {busy(host, port)}", file=sys.stderr)
        return CANNOT_START  # restarting will not free it
    uvicorn.run(
        "services.gateway.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
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
        supervisor.add(f"worker-{index + 1}", argv, reload=args.reload)
    return supervisor.run()


def busy(host: str, port: int) -> str:
    """What to say of a gateway port another program holds."""
    return (
        f"port {port} on {host} is in use by another program; "
        "choose another with --port (or CONVEYOR_GATEWAY_PORT), or stop that program"
    )


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
    host, port = args.host or settings.gateway_host, args.port or settings.gateway_port
    if not port_free(host, port):
        raise ServiceError(busy(host, port))
    ensured = Ensured()
    try:
        ensured = ensure_services(settings)
        asyncio.run(_migrate(settings))
        key = asyncio.run(_dev_key(settings))
        supervisor = Supervisor(stop_timeout=settings.shutdown_timeout_seconds + 10)
        gateway_argv = python("-m", "services.cli", "gateway", "--host", host, "--port", str(port))
        supervisor.add("gateway", gateway_argv, reload=args.reload)
        supervisor.add("scheduler", python("-m", "services.cli", "scheduler"), reload=args.reload)
        threads = str(args.threads or settings.worker_threads)
        for queue in QUEUES:
            argv = python("-m", "actors.worker", "--threads", threads, "--queues", queue)
            supervisor.add(f"worker-{queue}", argv, reload=args.reload)
        print(welcome(settings, f"http://{host}:{port}", key, reload=args.reload), flush=True)
        return supervisor.run()
    finally:
        ensured.stop_started()


def welcome(settings: Settings, gateway: str, key: str, *, reload: bool) -> str:
    """What `up` prints once the system is starting: where everything is, and how to use it."""
    cli = shutil.which("conveyor") == str(Path(sys.executable).parent / "conveyor")
    reach = (
        ""
        if cli
        else f"\n  the CLI          {Path(sys.executable).parent / 'conveyor'}  (or: source .venv/bin/activate)"
    )
    return (
        f"\nConveyor is starting.\n"
        f"  gateway          {gateway}\n"
        f"  dashboard        {gateway}/ui  (sign in with the API key below)\n"
        f"  API docs         {gateway}/schema/swagger  (the document: {gateway}/schema/openapi.json)\n"
        f"  RabbitMQ console {settings.rabbitmq_management_url}  (guest / guest)\n"
        f"  API key (dev)    {key}{reach}\n\n"
        + ("Code changes restart the gateway, the scheduler and the workers.\n" if reload else "")
        + "Ctrl+C stops everything this command started.\n"
    )


def add_server_commands(sub: Subcommands) -> None:
    """Add the commands that run Conveyor itself (they read `CONVEYOR_*` settings)."""
    gw = _command(sub, "gateway", cmd_gateway.__doc__ or "", "conveyor gateway --port 8080")
    gw.add_argument("--host", help="address to listen on (default: CONVEYOR_GATEWAY_HOST)")
    gw.add_argument("--port", type=int, help="port to listen on (default: CONVEYOR_GATEWAY_PORT, 8000)")
    gw.add_argument("--workers", type=int, default=1, help="gateway processes")
    wk = _command(sub, "worker", cmd_worker.__doc__ or "", "conveyor worker -Q text_intelligence general -p 2 -t 8")
    wk.add_argument(
        "--queues", "-Q", nargs="+", choices=QUEUES, metavar="QUEUE", help="queues to consume (default: all)"
    )
    wk.add_argument("--processes", "-p", type=int, default=1, help="worker processes")
    wk.add_argument("--threads", "-t", type=int, help="threads per process (default: CONVEYOR_WORKER_THREADS, 8)")
    wk.add_argument("--reload", action="store_true", help="restart the workers when Conveyor's code changes")
    _command(sub, "scheduler", cmd_scheduler.__doc__ or "", "conveyor scheduler")
    _command(sub, "migrate", cmd_migrate.__doc__ or "", "conveyor migrate")
    add_keys_command(sub)
    sv = _command(sub, "services", cmd_services.__doc__ or "", "conveyor services")
    sv.add_argument("--stop", action="store_true", help="stop the RabbitMQ and PostgreSQL Conveyor started")
    sv.add_argument(
        "--test-tools", action="store_true", help="also install what the test suite drives (Chromium, tmux)"
    )
    up = _command(sub, "up", cmd_up.__doc__ or "", "conveyor up --port 8080 --reload")
    up.add_argument("--host", help="the gateway's address (default: CONVEYOR_GATEWAY_HOST)")
    up.add_argument("--port", type=int, help="the gateway's port (default: CONVEYOR_GATEWAY_PORT, 8000)")
    up.add_argument("--threads", type=int, help="threads of each queue's worker (default: CONVEYOR_WORKER_THREADS, 8)")
    up.add_argument("--reload", action="store_true", help="restart the processes when Conveyor's code changes")


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
    """Run one server command with the settings from the environment; a failure is one line."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"conveyor {args.command}: {exc}", file=sys.stderr)
        return CANNOT_START
    configure_logging(settings, process=args.command)
    try:
        return SERVER_COMMANDS[args.command](settings, args)
    except (ServiceError, ValueError) as exc:
        print(f"conveyor {args.command}: {exc}", file=sys.stderr)
    except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
        print(f"conveyor {args.command}: {database_problem(settings, exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


def database_problem(settings: Settings, exc: BaseException) -> str:
    """One line on why PostgreSQL could not be used, naming the server (never the password)."""
    host, port = host_port(settings.database_url, 5432)
    reason = str(exc).strip() or type(exc).__name__
    return f"PostgreSQL at {host}:{port} (CONVEYOR_DATABASE_URL) cannot be used: {reason}"
