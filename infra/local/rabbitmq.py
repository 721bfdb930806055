"""A RabbitMQ node from the machine's packages, its data in a folder of ours."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from infra.local.net import port_open, wait_for_port
from infra.local.postgres import ServiceError

SERVER_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server")
CTL_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmqctl", "rabbitmqctl")


def _find(candidates: tuple[str, ...]) -> str:
    for candidate in candidates:
        found = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
        if found:
            return found
    raise ServiceError("RabbitMQ is not installed: install the 'rabbitmq-server' package (or run `docker compose up`)")


def rabbitmq_server() -> str:
    """The rabbitmq-server script; ServiceError if RabbitMQ is not installed."""
    return _find(SERVER_SCRIPTS)


def enable_management() -> None:
    """Turn on the management plugin of the machine's own RabbitMQ node (it applies at once)."""
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        raise ServiceError("rabbitmq-plugins not found; enable the rabbitmq_management plugin yourself")
    subprocess.run([plugins, "enable", "rabbitmq_management"], check=True, capture_output=True, timeout=120)


class LocalRabbitMQ:
    """A RabbitMQ node named after its port, listening on 127.0.0.1, management plugin on."""

    def __init__(self, data_dir: Path, port: int, management_port: int, dist_port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.management_port = management_port
        self.dist_port = dist_port or (port + 20000 if port + 20000 < 65536 else port - 20000)
        self.node = f"conveyor{port}@localhost"
        self._server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its AMQP URL (guest/guest, default vhost)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def management_url(self) -> str:
        """Its management console."""
        return f"http://127.0.0.1:{self.management_port}"

    def _environment(self) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.data_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
        )
        (self.data_dir / "rabbitmq-env.conf").write_text("")
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_CRASH_DUMP": str(self.data_dir / "erl_crash.dump"),
            "RABBITMQ_CONF_ENV_FILE": str(self.data_dir / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
            "RABBITMQ_PID_FILE": str(self.data_dir / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, *, timeout: float = 90) -> None:
        """Start the node in the background and wait until AMQP and the console answer."""
        env = self._environment()
        out = self.data_dir / "server.out"
        with open(out, "ab") as log:
            server = self._server = subprocess.Popen(
                [rabbitmq_server()],
                env=env,
                stdout=log,
                stderr=log,
                cwd=self.data_dir,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ServiceError(f"RabbitMQ did not start on port {self.port}; see {out}")
            time.sleep(0.2)
        wait_for_port("127.0.0.1", self.management_port, timeout=max(deadline - time.monotonic(), 1.0))

    def stop(self, *, timeout: float = 60) -> None:
        """Stop the node (its queues and persistent messages stay on disk)."""
        if not port_open("127.0.0.1", self.port):
            return
        ctl = _find(CTL_SCRIPTS)
        subprocess.run([ctl, "-n", self.node, "stop"], env=self._environment(), capture_output=True, timeout=timeout)
        wait_for_port("127.0.0.1", self.port, timeout=timeout, closed=True)
        if self._server is not None:
            self._server.wait(timeout)
            self._server = None
