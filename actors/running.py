"""The jobs a worker process is running: their deadlines, and stopping them from outside.

Shared by the worker threads (which begin and end jobs) and the database loop (whose watchdog
and heartbeats interrupt them), so every change happens under one lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from dramatiq.middleware.threading import raise_thread_exception

from actors.outcome import ClaimedJob
from actors.sdk import JobCancelled, JobContext, JobInterrupt, JobReleased, JobTimedOut, Operation, WorkerServices

log = structlog.get_logger("conveyor.worker")


@dataclass(eq=False)
class Running:
    """A job this process is running."""

    job: ClaimedJob
    ctx: JobContext
    op: Operation
    thread_id: int
    result: Any = None
    in_user_code: bool = False
    interrupted_by: type[JobInterrupt] | None = None
    #: Monotonic time after which the watchdog interrupts the job (its time limit, or the end
    #: of the grace a cancelled job has to stop by itself).
    deadline: float = float("inf")
    deadline_kind: type[JobInterrupt] = JobTimedOut


class RunningJobs:
    """Which jobs run in this process, on which threads, until when."""

    def __init__(self, cancel_grace_seconds: float, services: WorkerServices | None = None) -> None:
        self.cancel_grace_seconds = cancel_grace_seconds
        #: What the operations of this process may use (settings, the database loop).
        self.services = services
        self._lock = threading.Lock()
        self._running: dict[uuid.UUID, Running] = {}
        self._local = threading.local()
        #: Monotonic time at which jobs still running are released (set once the worker stops).
        self._release_at: float | None = None

    def begin(self, job: ClaimedJob, op: Operation) -> Running:
        """Register a claimed job as running on this thread and arm its time limit."""
        tries = job.attempts - job.retry_base
        ctx = JobContext(job.id, job.tenant, job.engine, job.operation, job.attempts, tries, self.services)
        running = Running(job, ctx, op, threading.get_ident(), deadline=time.monotonic() + job.timeout_seconds)
        with self._lock:
            self._running[job.id] = running
            self._arm_release(running)
        self._local.running = running
        return running

    def end(self, running: Running) -> None:
        """Unregister a job that has stopped running on this thread."""
        with self._lock:
            self._running.pop(running.job.id, None)
        self._local.running = None
        running.ctx.discard_workdir()

    def current(self) -> Running | None:
        """The job running on this thread."""
        return getattr(self._local, "running", None)

    def jobs(self) -> list[ClaimedJob]:
        """The jobs this process is running right now."""
        return [running.job for running in self.snapshot()]

    def snapshot(self) -> list[Running]:
        """The running jobs, as they are now."""
        with self._lock:
            return list(self._running.values())

    def drain(self, timeout: float) -> None:
        """The worker is stopping: jobs still running `timeout` seconds from now are released."""
        with self._lock:
            self._release_at = time.monotonic() + timeout
            for running in self._running.values():
                self._arm_release(running)

    def _arm_release(self, running: Running) -> None:
        if self._release_at is not None and self._release_at < running.deadline:
            running.deadline, running.deadline_kind = self._release_at, JobReleased

    @contextlib.contextmanager
    def user_code(self, running: Running) -> Iterator[None]:
        """Mark the stretch in which interrupts may be raised into this thread."""
        with self._lock:
            if running.interrupted_by is not None:
                raise running.interrupted_by()
            running.in_user_code = True
        try:
            yield
        finally:
            with self._lock:
                running.in_user_code = False

    def interrupt_overdue(self) -> None:
        """Interrupt the jobs past their deadline."""
        now = time.monotonic()
        with self._lock:
            overdue = [r for r in self._running.values() if r.deadline <= now and r.interrupted_by is None]
        for running in overdue:
            self.interrupt(running, running.deadline_kind)

    def interrupt(self, running: Running, kind: type[JobInterrupt]) -> None:
        """Stop a running operation by raising `kind` in its thread (at its next bytecode)."""
        with self._lock:
            if self._running.get(running.job.id) is not running or running.interrupted_by is not None:
                return
            running.interrupted_by = kind
            if kind is JobCancelled:
                running.ctx.cancel()
            if running.in_user_code:
                raise_thread_exception(running.thread_id, kind)  # type: ignore[no-untyped-call]
        log.info("job_interrupted", job_id=str(running.job.id), reason=kind.__name__)

    def request_cancel(self, job_id: uuid.UUID) -> None:
        """Cancel a running job: tell the operation now, interrupt it if it does not stop soon."""
        running = self._running.get(job_id)
        if running is None or running.ctx.cancelled:
            return
        running.ctx.cancel()
        grace_ends = time.monotonic() + self.cancel_grace_seconds
        with self._lock:
            if grace_ends < running.deadline:
                running.deadline, running.deadline_kind = grace_ends, JobCancelled
