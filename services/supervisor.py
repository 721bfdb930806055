"""Run programs as child processes; restart any that dies; stop them all on SIGINT or SIGTERM."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("conveyor.supervisor")

#: A child that ran this long before dying is restarted at once; one that keeps dying waits longer.
HEALTHY_AFTER = 30.0
MAX_BACKOFF = 30.0


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

    def add(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        """Add a program to run."""
        child = Child(name, list(argv), env)
        self.children.append(child)
        return child

    def run(self) -> int:
        """Start every child and watch them; returns after SIGINT/SIGTERM once all have stopped."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())
        for child in self.children:
            self._start(child)
        while not self.stopping.wait(0.2):
            self._watch()
        self.stop()
        return 0

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


def python(*args: str) -> list[str]:
    """argv running this interpreter."""
    return [sys.executable, *args]


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, plus `extra`."""
    return {**os.environ, **(extra or {})}
