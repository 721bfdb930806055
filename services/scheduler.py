"""The scheduler: one leader (a PostgreSQL advisory lock) keeps time-driven work going.

- due jobs: retrying (after backoff) and scheduled jobs are queued when their time comes,
  woken by NOTIFY and never more than a second late;
- cron schedules: each due fire time becomes one queued job (services/cron.py);
- outbox relay: publish intents a crashed gateway (or an unreachable RabbitMQ) left behind,
  and at once the jobs a workflow step queued;
- orphan rescue: running jobs whose worker is gone and whose message nobody took over;
- stats: the job changes the jobs triggers recorded are folded into the rollups every second;
- retention: finished jobs past `retention_days`, and stats rollups past
  `stats_retention_days`, are deleted in short batches.

Several schedulers may run; the others wait and take over within seconds of the leader's
death, because the lock dies with the leader's session.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from infra import jobs, stats
from infra.broker import queue_declarations
from infra.db import UNAVAILABLE, connect, create_pool
from infra.dispatch import Dispatcher, relay_outbox
from infra.jobs import to_dispatch
from infra.publisher import Publisher
from infra.retention import prune_finished, prune_stats
from infra.settings import Settings
from infra.sql import QUERIES
from infra.workers import LEADER_PREFIX
from schemas.jobs import JobStatus
from services import cron

log = structlog.get_logger("conveyor.scheduler")

LEADER_LOCK = 7361023002
PROMOTE_BATCH = 500
RELAY_EVERY = 1.0
RELAY_BATCH = 500
RESCUE_EVERY = 2.0
STATS_EVERY = 1.0
STATS_BATCH = 5000
CAMPAIGN_EVERY = 2.0


def scheduler_id() -> str:
    """This scheduler process: host and pid."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class Scheduler:
    """Campaigns for leadership, then runs the maintenance loops while it holds it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = asyncio.Event()
        self.is_leader = False

    async def run(self) -> None:
        """Until `stopping` is set."""
        pool = await self._retry_forever(
            "open pool", lambda: create_pool(self.settings, application_name="conveyor-scheduler", max_size=4)
        )
        publisher = Publisher(self.settings.rabbitmq_url, queue_declarations(self.settings), name="conveyor-scheduler")
        publisher.start()
        dispatcher = Dispatcher(pool, publisher, self.settings)
        dispatcher.start()
        try:
            while not self.stopping.is_set():
                leader = await self._campaign()
                if leader is None:
                    break
                try:
                    await self._lead(leader, dispatcher)
                finally:
                    self.is_leader = False
                    with contextlib.suppress(Exception):
                        await leader.close(timeout=2)
        finally:
            await dispatcher.close()
            await publisher.stop()
            await pool.close()

    async def _campaign(self) -> asyncpg.Connection | None:
        """Wait to hold the leader lock; the session holding it, or None when stopping."""
        announced = False
        while not self.stopping.is_set():
            try:
                conn = await connect(self.settings.database_url, application_name=LEADER_PREFIX + scheduler_id())
                if await conn.fetchval(QUERIES.try_leader_lock, LEADER_LOCK):
                    log.info("scheduler_leading")
                    self.is_leader = True
                    return conn
                await conn.close()
                if not announced:
                    log.info("scheduler_standing_by", reason="another scheduler leads")
                    announced = True
            except UNAVAILABLE as exc:
                log.warning("database_unavailable", during="campaign", error=str(exc) or type(exc).__name__)
            await self._pause(CAMPAIGN_EVERY)
        return None

    async def _lead(self, leader: asyncpg.Connection, dispatcher: Dispatcher) -> None:
        """Run the loops until stopping or until the leader session is lost."""
        wake = {channel: asyncio.Event() for channel in ("conveyor_timers", "conveyor_outbox", cron.CHANNEL)}
        for channel, event in wake.items():
            await leader.add_listener(channel, lambda *_, event=event: event.set())
        periodic = AsyncIOScheduler()
        maintenance: list[tuple[str, Callable[[Dispatcher], Awaitable[None]], float]] = [
            ("rescue", self._rescue, RESCUE_EVERY),
            ("stats", self._flush_stats, STATS_EVERY),
            ("prune", self._prune, self.settings.retention_interval_seconds),
        ]
        for name, work, seconds in maintenance:
            periodic.add_job(
                self._guarded(name, functools.partial(work, dispatcher)),
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
            )
        periodic.start()
        loops = [
            asyncio.create_task(self._release_due(dispatcher, wake["conveyor_timers"])),
            asyncio.create_task(self._relay_loop(dispatcher, wake["conveyor_outbox"])),
            asyncio.create_task(cron.run_schedules(dispatcher, self.settings, wake[cron.CHANNEL])),
        ]
        try:
            await self._hold(leader)
        finally:
            periodic.shutdown(wait=False)
            for task in loops:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _hold(self, leader: asyncpg.Connection) -> None:
        """Return when stopping, or when the leader session (and so the lock) is gone."""
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(leader.fetchval(QUERIES.ping), 2.0)
            except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
                log.warning("scheduler_leadership_lost", error=str(exc) or type(exc).__name__)
                return
            await self._pause(1.0)

    async def _release_due(self, dispatcher: Dispatcher, wake: asyncio.Event) -> None:
        """Queue due jobs as their times come; sleep until the next one, a NOTIFY, or 1 s."""
        while True:
            wake.clear()
            try:
                while True:
                    due = await jobs.promote_due(dispatcher.pool, limit=PROMOTE_BATCH)
                    dispatcher.send(due)
                    if len(due) < PROMOTE_BATCH:
                        break
                wait = await jobs.seconds_until_due(dispatcher.pool)
            except UNAVAILABLE as exc:
                log.warning("database_unavailable", during="release due jobs", error=str(exc) or type(exc).__name__)
                wait = 1.0
            timeout = 1.0 if wait is None else min(max(wait, 0.0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    async def _relay_loop(self, dispatcher: Dispatcher, urgent: asyncio.Event) -> None:
        """Relay the outbox every second, and at once when a workflow step queues jobs."""
        relay = self._guarded("relay", lambda: self._relay(dispatcher))
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(urgent.wait(), RELAY_EVERY)
            urgent.clear()
            await relay()

    async def _relay(self, dispatcher: Dispatcher) -> None:
        if dispatcher.publisher.ready:
            grace = self.settings.relay_grace_seconds
            relay = functools.partial(relay_outbox, dispatcher.pool, dispatcher.publisher, self.settings)
            while await relay(grace_seconds=grace, limit=RELAY_BATCH) == RELAY_BATCH:
                pass  # a full batch may have more behind it

    async def _rescue(self, dispatcher: Dispatcher) -> None:
        s, pool = self.settings, dispatcher.pool
        rows = await jobs.rescue_orphans(
            pool, lease_seconds=s.lease_seconds, max_worker_losses=s.max_worker_losses, limit=200
        )
        for row in rows:
            log.warning("job_rescued", job_id=str(row["id"]), status=row["status"], attempt=row["attempts"])
        dispatcher.send([to_dispatch(row) for row in rows if row["status"] == JobStatus.QUEUED])

    async def _flush_stats(self, dispatcher: Dispatcher) -> None:
        """Fold the job changes the triggers recorded into the stats rollups and totals."""
        while await stats.flush(dispatcher.pool, limit=STATS_BATCH) == STATS_BATCH:
            pass  # a full batch may have more behind it

    async def _prune(self, dispatcher: Dispatcher) -> None:
        """Delete finished jobs and workflows past retention (with their events), and old stats
        rollups, logging how many went."""
        s = self.settings
        if s.stats_retention_days > 0:
            rows = await prune_stats(
                dispatcher.pool,
                older_than_days=s.stats_retention_days,
                batch_size=s.retention_batch_size,
                stopping=self.stopping,
            )
            if rows:
                log.info("stats_pruned", rows=rows, older_than_days=s.stats_retention_days)
        if s.retention_days <= 0:
            return
        pruned = await prune_finished(
            dispatcher.pool, older_than_days=s.retention_days, batch_size=s.retention_batch_size, stopping=self.stopping
        )
        if pruned.jobs or pruned.workflows or pruned.batch_keys:
            log.info(
                "jobs_pruned",
                jobs=pruned.jobs,
                workflows=pruned.workflows,
                batch_keys=pruned.batch_keys,
                batches=pruned.batches,
                older_than_days=s.retention_days,
            )

    def _guarded(self, name: str, work: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                await work()
            except UNAVAILABLE as exc:
                log.warning("database_unavailable", during=name, error=str(exc) or type(exc).__name__)
            except Exception:
                log.exception("maintenance_failed", task=name)

        return run

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def _retry_forever(self, what: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        while True:
            try:
                return await attempt()
            except UNAVAILABLE as exc:
                log.warning("database_unavailable", during=what, error=str(exc) or type(exc).__name__)
                await self._pause(2.0)
