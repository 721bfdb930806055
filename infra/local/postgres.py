"""A PostgreSQL server from the machine's packages, its data in a folder of ours."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from infra.local.net import port_open, wait_for_port


class ServiceError(RuntimeError):
    """A local service could not be found or started."""


def pg_bindir() -> Path:
    """The folder of initdb and pg_ctl: on PATH, or the newest /usr/lib/postgresql/<v>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not candidates:
        raise ServiceError("PostgreSQL is not installed: install the 'postgresql' package (or run `docker compose up`)")
    return Path(candidates[-1])


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; as root, run it as the 'postgres' user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class LocalPostgres:
    """A PostgreSQL cluster in `data_dir`, listening on 127.0.0.1:`port`, trust auth."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.bindir = pg_bindir()

    @property
    def url(self) -> str:
        """The URL of its `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str], **kwargs: object) -> None:
        subprocess.run(_as_postgres(argv), check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]

    def init(self) -> None:
        """Create the cluster unless it exists."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust"]
        self._run([*initdb, "--encoding=UTF8", "--no-instructions"])

    def start(self, *, timeout: float = 60) -> None:
        """Start it (initialising first if needed) and wait until it accepts connections."""
        self.init()
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        log = self.data_dir / "server.log"
        pg_ctl = str(self.bindir / "pg_ctl")
        self._run(
            [
                pg_ctl,
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ]
        )
        if not wait_for_port("127.0.0.1", self.port, timeout=timeout):
            raise ServiceError(f"PostgreSQL did not start on port {self.port}; see {log}")

    def stop(self, *, mode: str = "fast") -> None:
        """Stop it (`immediate` is a crash: no checkpoint)."""
        if port_open("127.0.0.1", self.port) or (self.data_dir / "postmaster.pid").exists():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])
