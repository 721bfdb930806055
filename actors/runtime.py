"""What one worker process shares between its threads.

Its identity, an event loop thread that owns the asyncpg pool, the liveness session that tells
PostgreSQL this worker is alive (and hears cancellations), and the jobs running right now,
and the watchdog that interrupts them on timeout or cancellation.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec
import structlog

from actors.controls import QueueGate, Registration, look_at_controls, watch_controls
from actors.outcome import ClaimedJob, Outcome, decide, encode_result, outcome_log
from actors.running import Running, RunningJobs
from actors.sdk import (
    LeaseLost,
    Operation,
    PermanentError,
    Registry,
)
from infra import jobs, workers
from infra.batching import Batcher
from infra.db import RETRYABLE, connect, create_pool
from infra.event_signal import DEFER_NOTIFY, EventSignal
from infra.settings import Settings
from schemas.engines import QUEUES
from schemas.jobs import JobStatus

log = structlog.get_logger("conveyor.worker")
T = TypeVar("T")

#: Errors after which a statement is worth trying again: the database is restarting or
#: unreachable, or chose this statement as a deadlock victim.
UNAVAILABLE = RETRYABLE
LIVENESS_PREFIX = "conveyor-worker:"
#: What a claim answers for a job that queue controls hold back (it stays queued).
HELD = "held"
WATCHDOG_INTERVAL = 0.1
MAX_UNRECORDED = 256


def answer_claims(job_ids: Sequence[uuid.UUID], claims: jobs.Claims) -> list[asyncpg.Record | str | None]:
    """What each claim request of a batch gets: the claimed row, HELD, or None. Two messages of
    one job in the same batch (a duplicate publish) are one claim: only the first runs it."""
    answered: set[uuid.UUID] = set()
    answers: list[asyncpg.Record | str | None] = []
    for job_id in job_ids:
        if job_id in answered:
            answers.append(None)
            continue
        answered.add(job_id)
        answers.append(HELD if job_id in claims.held else claims.claimed.get(job_id))
    return answers


class WorkerRuntime:
    """Per-process worker state; `start` it in the worker process, before its threads run."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.worker_id = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool: asyncpg.Pool | None = None
        self._liveness: asyncpg.Connection | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._controls_task: asyncio.Task[None] | None = None
        self._claims: Batcher[tuple[uuid.UUID, str], asyncpg.Record | str | None] = Batcher(self._claim_batch)
        self.gate = QueueGate(settings.queue_prefix)
        #: The queues (engine names) and threads this process serves, for the worker registry.
        self.queues: list[str] = list(QUEUES)
        self.threads = settings.worker_threads
        self._finishes: Batcher[jobs.Finish, bool] = Batcher(self._finish_batch)
        #: The NOTIFY after the commits of claims, finishes and progress (their triggers defer it).
        self._events = EventSignal(lambda: self.pool)
        self.running = RunningJobs(settings.cancel_grace_seconds, services=self)
        #: Outcomes handed to the database loop and not yet written; bounded, so a slow
        #: database slows the threads down instead of piling up finished jobs in memory.
        self._unrecorded = threading.Semaphore(MAX_UNRECORDED)
        self._recording: set[concurrent.futures.Future[bool]] = set()
        self._recording_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the database side of this process (pool, liveness session, heartbeats)."""
        self.worker_id = f"{socket.gethostname()[:24]}-{os.getpid()}-{secrets.token_hex(3)}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="conveyor-db", daemon=True)
        self._thread.start()
        delay = 0.5
        while True:
            try:
                self.call(self._open(), timeout=60)
                break
            except Exception as exc:
                log.warning("database_unavailable", during="worker boot", error=str(exc) or type(exc).__name__)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        log.info("worker_started", worker_id=self.worker_id)

    def stop(self) -> None:
        """Close the database side of this process."""
        if self._loop is None:
            return
        self._wait_recorded(timeout=30)
        with contextlib.suppress(Exception):
            self.call(self._close(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None

    def call(self, coro: Awaitable[T], *, timeout: float | None = None) -> T:
        """Run a coroutine on the database loop from a worker thread and wait for it."""
        assert self._loop is not None, "WorkerRuntime.start() has not run"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)  # type: ignore[arg-type]

    def run_db(self, work: Callable[[asyncpg.Pool], Awaitable[T]], timeout: float | None) -> T:
        """Run `work(pool)` on the database loop for an operation (JobContext.database)."""

        async def on_the_loop() -> T:
            return await work(self.pool)

        return self.call(on_the_loop(), timeout=timeout)

    async def _open(self) -> None:
        if self._pool is None:
            size = self.settings.worker_threads + 2
            self._pool = await create_pool(
                self.settings, application_name="conveyor-worker-pool", max_size=size, session=DEFER_NOTIFY
            )
        await self._ensure_liveness()
        if self._heartbeat_task is None:
            loop = asyncio.get_running_loop()
            self._heartbeat_task = loop.create_task(self._heartbeats())
            self._watchdog_task = loop.create_task(self._watchdog())
            registration = Registration(self.worker_id, self.queues, self.threads)
            await look_at_controls(self.gate, self.pool, registration)
            interval = self.settings.control_poll_seconds
            self._controls_task = loop.create_task(watch_controls(self.gate, self.pool, registration, interval))

    async def _close(self) -> None:
        for task in (self._heartbeat_task, self._watchdog_task, self._controls_task):
            if task is not None:
                task.cancel()
        with contextlib.suppress(Exception):
            await workers.unregister(self.pool, self.worker_id)
        await self._events.close()
        if self._liveness is not None and not self._liveness.is_closed():
            await self._liveness.close()
        if self._pool is not None:
            await self._pool.close()

    async def _ensure_liveness(self) -> None:
        """(Re)open the session whose presence in pg_stat_activity says this worker is alive."""
        if self._liveness is not None and not self._liveness.is_closed():
            return
        conn = await connect(self.settings.database_url, application_name=LIVENESS_PREFIX + self.worker_id)
        await conn.add_listener("conveyor_cancel", self._on_cancel_notice)
        self._liveness = conn

    async def _retrying(self, what: str, statement: Callable[[], Awaitable[T]], *, within: float) -> T:
        """Run a statement, retrying while the database is unavailable, for up to `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + within, 0.1
        while True:
            try:
                return await statement()
            except UNAVAILABLE as exc:
                if loop.time() + delay > deadline:
                    raise
                log.warning("database_unavailable", during=what, error=str(exc) or type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    @property
    def pool(self) -> asyncpg.Pool:
        """The process's asyncpg pool."""
        assert self._pool is not None
        return self._pool

    # -- claiming and finishing (worker threads) --------------------------------------------

    def claim(self, job_id: uuid.UUID, engine: str) -> ClaimedJob | str | None:
        """Claim a job for this worker: the job, HELD if queue controls hold it back (it stays
        queued), or None if it is not to run (finished, cancelled, owned by a live worker).

        Claims of all threads that arrive together go to PostgreSQL as one statement.
        """
        claim = self.call(self._retrying("claim", lambda: self._claims.submit((job_id, engine)), within=60))
        if claim is None or isinstance(claim, str):
            return claim
        return msgspec.convert(dict(claim), ClaimedJob)

    async def _claim_batch(self, requests: Sequence[tuple[uuid.UUID, str]]) -> list[asyncpg.Record | str | None]:
        s = self.settings
        claims = await jobs.claim_jobs(
            self.pool,
            [job_id for job_id, _ in requests],
            self.worker_id,
            lease_seconds=s.lease_seconds,
            max_worker_losses=s.max_worker_losses,
            limited=self.gate.limited(engine for _, engine in requests),
        )
        if claims.held:
            self.gate.held_back(engine for job_id, engine in requests if job_id in claims.held)
        if claims.claimed:
            self._events.wake()
        return answer_claims([job_id for job_id, _ in requests], claims)

    async def _finish_batch(self, finishes: Sequence[jobs.Finish]) -> list[bool]:
        recorded = await jobs.finish_jobs(self.pool, self.worker_id, finishes)
        if recorded:
            self._events.wake()
        return [finish.job_id in recorded for finish in finishes]

    def finish(self, running: Running, exception: BaseException | None) -> Outcome:
        """Unregister a job and decide its outcome, which is recorded in the background while
        the thread takes its next message (a release is recorded before this returns, as its
        message is re-published only then). The outcome is logged once recorded.

        A crash before the record commits leaves the job `running` with its worker gone, so it
        is taken over and runs again: nothing is lost, and success is still recorded once.
        """
        self.running.end(running)
        self.gate.ended(running.job.engine)
        outcome = decide(running.job, running.op, result=running.result, exception=exception)
        context = structlog.contextvars.get_contextvars()
        if outcome.status is None:
            log.info(outcome.event)
            return outcome
        record = jobs.Finish(running.job.id, outcome.status, outcome.result, outcome.error, outcome.retry_in)
        if outcome.status is JobStatus.QUEUED:
            recorded = self.call(self._record(record, outcome, context))
            return outcome if recorded else Outcome(None, "job_lease_lost")
        self._unrecorded.acquire()
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._record(record, outcome, context), self._loop)
        with self._recording_lock:
            self._recording.add(future)
        future.add_done_callback(self._recorded)
        return outcome

    async def _record(self, record: jobs.Finish, outcome: Outcome, context: dict[str, Any]) -> bool:
        """Write how an attempt ended (with the other finishes of the moment); log it once written."""
        with structlog.contextvars.bound_contextvars(**context):
            try:
                recorded = await self._retrying("finish", lambda: self._finishes.submit(record), within=120)
            except Exception:
                log.exception("job_finish_failed", status=record.status.value)
                return False
            event, fields = outcome_log(outcome if recorded else Outcome(None, "job_lease_lost"))
            log.info(event, **fields)
            return recorded

    def _recorded(self, future: concurrent.futures.Future[bool]) -> None:
        with self._recording_lock:
            self._recording.discard(future)
        self._unrecorded.release()

    def _wait_recorded(self, timeout: float) -> None:
        """Wait for outcomes still being recorded (a stopping worker)."""
        with self._recording_lock:
            pending = list(self._recording)
        concurrent.futures.wait(pending, timeout=timeout)

    # -- running operations (worker threads) ------------------------------------------------

    def actor_fn(self, op: Operation) -> Callable[[], None]:
        """The Dramatiq actor function of an operation: run it on the claimed job."""

        def run_operation() -> None:
            running = self.running.current()
            if running is None:
                raise PermanentError(f"{op.key} ran without a claimed job")
            try:
                params = msgspec.convert(running.job.params, op.params)
            except msgspec.ValidationError as exc:
                raise PermanentError(f"params do not fit {op.key}: {exc}") from None
            with self.running.user_code(running):
                value = op.fn(running.ctx, params)
            running.result = encode_result(op, value)

        run_operation.__name__ = op.key
        run_operation.__module__ = op.fn.__module__
        return run_operation

    # -- interrupts, cancellation and heartbeats (database loop) ----------------------------

    async def _watchdog(self) -> None:
        """Interrupt running jobs past their deadline (checked ten times a second)."""
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL)
            self.running.interrupt_overdue()

    def _on_cancel_notice(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.running.request_cancel(uuid.UUID(payload))

    async def _heartbeats(self) -> None:
        """Renew leases and write progress of running jobs; learn of cancellations and takeovers."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self._ensure_liveness()
                await self._beat()
            except UNAVAILABLE as exc:
                log.warning("heartbeat_failed", error=str(exc) or type(exc).__name__)
            except Exception:
                log.exception("heartbeat_crashed")

    async def _beat(self) -> None:
        snapshot = self.running.snapshot()
        if not snapshot:
            return
        beats = []
        for running in snapshot:
            progress, message = running.ctx.take_progress() or (None, None)
            beats.append((running.job.id, progress, message))
        states = await jobs.heartbeat(self.pool, self.worker_id, beats)
        if any(progress is not None for _, progress, _ in beats):
            self._events.wake()
        for running in snapshot:
            cancel_requested = states.get(running.job.id)
            if cancel_requested is None:
                self.running.interrupt(running, LeaseLost)
            elif cancel_requested:
                self.running.request_cancel(running.job.id)
