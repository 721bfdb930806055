"""Find the RabbitMQ and PostgreSQL the settings point at, or start them locally."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from infra.local.net import host_port, is_local, port_open, wait_for_port
from infra.local.packages import install_packages, missing_tools
from infra.local.postgres import LocalPostgres, ServiceError, pg_bindir
from infra.local.rabbitmq import LocalRabbitMQ, enable_management, rabbitmq_server
from infra.settings import Settings

log = structlog.get_logger("conveyor.services")


@dataclass
class Ensured:
    """What `ensure_services` found running and what it started (and may stop)."""

    started: list[LocalPostgres | LocalRabbitMQ] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def stop_started(self) -> None:
        """Stop the services this run started, newest first; never the ones it found running."""
        for service in reversed(self.started):
            service.stop()
            log.info("service_stopped", service=type(service).__name__, data=str(service.data_dir))
        self.started.clear()


def local_postgres(settings: Settings) -> LocalPostgres:
    """The PostgreSQL Conveyor starts when none runs where the settings point."""
    _, port = host_port(settings.database_url, 5432)
    return LocalPostgres(Path(settings.local_dir) / "postgres", port)


def local_rabbitmq(settings: Settings) -> LocalRabbitMQ:
    """The RabbitMQ Conveyor starts when none runs where the settings point."""
    _, port = host_port(settings.rabbitmq_url, 5672)
    _, management_port = host_port(settings.rabbitmq_management_url, 15672)
    return LocalRabbitMQ(Path(settings.local_dir) / "rabbitmq", port, management_port)


def installed(package: str) -> bool:
    """Whether the machine has the programs of a package Conveyor starts servers from."""
    try:
        if package == "postgresql":
            pg_bindir()
        else:
            rabbitmq_server()
    except ServiceError:
        return False
    return True


def to_start(settings: Settings) -> list[str]:
    """The packages whose servers Conveyor is to start here: none answers where the settings
    point, and that is this machine."""
    wanted = []
    for package, url, default_port in (
        ("postgresql", settings.database_url, 5432),
        ("rabbitmq-server", settings.rabbitmq_url, 5672),
    ):
        host, port = host_port(url, default_port)
        if is_local(host) and not port_open(host, port):
            wanted.append(package)
    return wanted


def ensure_services(settings: Settings, *, test_tools: bool = False) -> Ensured:
    """Make PostgreSQL and RabbitMQ (with its management console) reachable, installing their
    packages first where they are missing and this process can (see infra.local.packages),
    with the engines' tools (espeak-ng), and with `test_tools` the suite's, in the same run."""
    missing = [package for package in to_start(settings) if not installed(package)]
    install_packages(missing, tools=missing_tools(for_tests=test_tools))
    ensured = Ensured()
    host, port = host_port(settings.database_url, 5432)
    if port_open(host, port):
        ensured.reused.append(f"PostgreSQL at {host}:{port}")
    elif is_local(host):
        postgres = local_postgres(settings)
        log.info("service_starting", service="postgres", port=port, data=str(postgres.data_dir))
        postgres.start()
        ensured.started.append(postgres)
    else:
        raise ServiceError(f"PostgreSQL at {host}:{port} is not reachable (CONVEYOR_DATABASE_URL)")

    host, port = host_port(settings.rabbitmq_url, 5672)
    console_host, console_port = host_port(settings.rabbitmq_management_url, 15672)
    if port_open(host, port):
        ensured.reused.append(f"RabbitMQ at {host}:{port}")
        if not port_open(console_host, console_port) and is_local(host):
            log.info("rabbitmq_management_enabling")
            enable_management()
            if not wait_for_port(console_host, console_port, timeout=60):
                log.warning("rabbitmq_management_unreachable", url=settings.rabbitmq_management_url)
    elif is_local(host):
        rabbitmq = local_rabbitmq(settings)
        log.info("service_starting", service="rabbitmq", port=port, data=str(rabbitmq.data_dir))
        rabbitmq.start()
        ensured.started.append(rabbitmq)
    else:
        raise ServiceError(f"RabbitMQ at {host}:{port} is not reachable (CONVEYOR_RABBITMQ_URL)")
    return ensured
