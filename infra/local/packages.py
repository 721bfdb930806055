"""Installing Debian's RabbitMQ and PostgreSQL packages, and the programs engines run
(espeak-ng), on a machine that lacks them.

Only where it can: as root with apt-get (these machines, CI). The packages' own services are
kept from starting while they install (a policy-rc.d that forbids it), because Conveyor
starts its own servers, with its own data folders, ports and trust authentication.
Elsewhere the answer stays a clear "install the package": an error for a server Conveyor
needs, a warning for a tool that only some engines' workers need.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import structlog

from infra.local.postgres import ServiceError

log = structlog.get_logger("conveyor.services")

#: Debian package → what it provides.
PACKAGES = {"postgresql": "PostgreSQL", "rabbitmq-server": "RabbitMQ"}
#: Debian package of a program an engine runs → that program (what a worker looks for on PATH).
TOOLS = {"espeak-ng": "espeak-ng"}
#: Debian package of a program the test suite drives → that program: the dashboard's browser
#: tests run Chromium, the CLI's terminal tests run tmux. Installed by `make test` only.
TEST_TOOLS = {"chromium": "chromium", "tmux": "tmux"}
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
#: invoke-rc.d's "action forbidden": a package's maintainer scripts start no service.
FORBID_SERVICES = "#!/bin/sh\n# Conveyor installs packages; it starts its own servers.\nexit 101\n"

Runner = Callable[[Sequence[str], Mapping[str, str]], None]


def run_command(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Run a command to completion; CalledProcessError if it fails."""
    subprocess.run(list(argv), env=dict(env), check=True, timeout=1800)


def install_commands(missing: Sequence[str]) -> list[list[str]]:
    """What installs these packages: one apt-get update, then one install without extras."""
    return [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *missing]]


def missing_tools(which: Callable[[str], str | None] = shutil.which, *, for_tests: bool = False) -> list[str]:
    """The tool packages (TOOLS, and TEST_TOOLS for the test suite) whose program is not on PATH."""
    tools = {**TOOLS, **TEST_TOOLS} if for_tests else TOOLS
    return [package for package, program in tools.items() if which(program) is None]


def install_packages(
    missing: Sequence[str],
    *,
    tools: Sequence[str] = (),
    run: Runner = run_command,
    is_root: bool | None = None,
    has_apt: bool | None = None,
    policy: Path = POLICY_RC_D,
) -> None:
    """Install the missing server packages and tool packages, in one apt-get run, if this
    process can (root, apt-get). Otherwise, or if that fails: ServiceError saying what to
    install when a server package is missing, a warning when only tools are."""
    if not missing and not tools:
        return
    is_root = os.geteuid() == 0 if is_root is None else is_root
    has_apt = shutil.which("apt-get") is not None if has_apt is None else has_apt
    how = "run as root to let Conveyor install it" if has_apt else "install it with your package manager"
    if not (is_root and has_apt):
        if tools:
            log.warning("tools_missing", packages=list(tools), advice=f"{how}; workers that run them need them")
        if missing:
            names = " and ".join(f"{PACKAGES[p]} (package '{p}')" for p in missing)
            raise ServiceError(f"{names} not installed: {how}, or run `docker compose up`")
        return
    wanted = [*missing, *tools]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("packages_installing", packages=wanted)
    with services_forbidden(policy):
        for argv in install_commands(wanted):
            try:
                run(argv, env)
            except (OSError, subprocess.SubprocessError) as exc:
                if missing:
                    raise ServiceError(f"`{' '.join(argv)}` failed: {exc}") from exc
                log.warning("tools_not_installed", packages=list(tools), command=" ".join(argv), error=str(exc))
                return
    log.info("packages_installed", packages=wanted)


@contextlib.contextmanager
def services_forbidden(policy: Path) -> Iterator[None]:
    """While installing, packages may not start their services (unless a policy exists already)."""
    if policy.exists():
        yield
        return
    policy.write_text(FORBID_SERVICES)
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)
