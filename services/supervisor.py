"""Run programs as child processes; restart any that dies (or, watching the code, any whose
code changed); stop them all on SIGINT or SIGTERM, or when one cannot start at all."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger("conveyor.supervisor")

#: A child that ran this long before dying is restarted at once; one that keeps dying waits longer.
HEALTHY_AFTER = 30.0
MAX_BACKOFF = 30.0
#: The exit status of a program that cannot start for a reason a restart will not change (a
#: busy port, settings that do not parse: sysexits' EX_CONFIG). The supervisor stops then.
CANNOT_START = 78
#: How often the code watcher looks for changed files.
WATCH_INTERVAL = 1.0


@dataclass
class Child:
    """A supervised program."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    #: Restarted when the watched code changes.
    reload: bool = False
    reloading: bool = False

    @property
    def pid(self) -> int | None:
        """The running process id, if any."""
        return None if self.process is None else self.process.pid


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies (Linux), so nothing is orphaned."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Supervisor:
    """Keeps its children running until told to stop."""

    stop_timeout: float = 30.0
    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Watches the code of children added with `reload`.
    code: CodeWatcher | None = None
    exit_code: int = 0

    def add(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None, *, reload: bool = False) -> Child:
        """Add a program to run (with `reload`, restarted when the code changes)."""
        child = Child(name, list(argv), env, reload=reload)
        self.children.append(child)
        if reload and self.code is None:
            self.code = CodeWatcher(package_folders())
        return child

    def run(self) -> int:
        """Start every child and watch them; returns after SIGINT/SIGTERM once all have stopped
        (0), or after one exited with CANNOT_START (1)."""
        if threading.current_thread() is threading.main_thread():  # signals reach only that one
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: self.stopping.set())
        for child in self.children:
            self._start(child)
        next_look = time.monotonic() + WATCH_INTERVAL
        while not self.stopping.wait(0.2):
            self._watch()
            if self.code is not None and time.monotonic() >= next_look:
                next_look = time.monotonic() + WATCH_INTERVAL
                self._reload_if_changed()
        self.stop()
        return self.exit_code

    def _reload_if_changed(self) -> None:
        assert self.code is not None
        changed = self.code.changed()
        if not changed:
            return
        log.info("code_changed", files=[str(path) for path in changed[:5]], count=len(changed))
        for child in self.children:
            if child.reload and child.process is not None and child.process.poll() is None:
                child.reloading = True
                child.process.send_signal(signal.SIGTERM)

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=child.env, start_new_session=True, preexec_fn=_die_with_parent)
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("process_started", child=child.name, pid=child.pid)

    def _watch(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            if child.reloading:
                child.reloading = False
                self._start(child)
                continue
            if child.process.returncode == CANNOT_START:
                print(f"conveyor: {child.name} cannot start (see above); stopping everything", file=sys.stderr)
                self.exit_code = 1
                self.stopping.set()
                return
            child.failures = 0 if now - child.started_at > HEALTHY_AFTER else child.failures + 1
            delay = min(MAX_BACKOFF, 0.5 * 2**child.failures) if child.failures else 0.0
            log.warning(
                "process_died",
                child=child.name,
                pid=child.pid,
                code=child.process.returncode,
                restart_in=delay,
            )
            child.restart_at = now + delay

    def stop(self) -> None:
        """SIGTERM every child, wait up to `stop_timeout`, then SIGKILL what is left."""
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("process_killed", child=child.name, pid=child.pid)
                child.process.kill()
                child.process.wait()
        log.info("processes_stopped", count=len(running))


@dataclass
class CodeWatcher:
    """Tells which Python and SQL files under some folders changed since it last looked."""

    folders: Sequence[Path]
    seen: dict[Path, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seen = self._snapshot()

    def _snapshot(self) -> dict[Path, float]:
        found: dict[Path, float] = {}
        for folder in self.folders:
            for path in folder.rglob("*"):
                if path.suffix in {".py", ".sql"} and "__pycache__" not in path.parts:
                    try:
                        found[path] = path.stat().st_mtime
                    except OSError:
                        continue  # deleted while we looked
        return found

    def changed(self) -> list[Path]:
        """The files added, changed or removed since the last call."""
        now = self._snapshot()
        changed = [path for path in now.keys() | self.seen.keys() if now.get(path) != self.seen.get(path)]
        self.seen = now
        return sorted(changed)


def package_folders(names: Iterable[str] = ("actors", "schemas", "infra", "services")) -> list[Path]:
    """The folders of Conveyor's own packages (found without importing them)."""
    import importlib.util

    folders: list[Path] = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders.extend(Path(location) for location in spec.submodule_search_locations)
    return folders


def python(*args: str) -> list[str]:
    """argv running this interpreter."""
    return [sys.executable, *args]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, plus `extra`."""
    return {**os.environ, **(extra or {})}
