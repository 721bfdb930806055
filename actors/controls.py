"""What a worker process knows of queue controls: whether its consumers may take messages.

The statement that claims jobs enforces pauses and limits for every process and host; this gate
only spares the broker and the database the messages that claim would hold back. It is
refreshed from PostgreSQL every `control_poll_seconds`, closes a queue at once when one of its
claims is held back, and opens it again when a job of that queue ends here.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
import structlog

from infra import controls, workers
from schemas.operations import Controls

log = structlog.get_logger("conveyor.worker")


class QueueGate:
    """Which queues this process's consumers may take messages from now."""

    def __init__(self, queue_prefix: str) -> None:
        self.prefix = queue_prefix
        self._lock = threading.Lock()
        self._controls = Controls()
        #: Queues whose claims were held back since the last refresh.
        self._held: set[str] = set()
        #: Jobs of each queue that ended here since the last refresh (their slots are free).
        self._ended: dict[str, int] = {}

    @property
    def controls(self) -> Controls:
        """The controls as last read."""
        return self._controls

    def accepts(self, queue_name: str) -> bool:
        """Whether the consumer of a queue may take messages (delay queues always may)."""
        if queue_name.endswith((".DQ", ".XQ")):
            return True
        engine = queue_name.removeprefix(self.prefix)
        with self._lock:
            if engine in self._held:
                return False
            return self._controls.waiting_reason(engine, ended=self._ended) is None

    def refresh(self, controls: Controls) -> None:
        """New controls read from PostgreSQL."""
        with self._lock:
            self._controls = controls
            self._held.clear()
            self._ended.clear()

    def held_back(self, engines: Iterable[str]) -> None:
        """Claims of these queues were held back: take no more of their messages for now."""
        with self._lock:
            self._held.update(engines)

    def ended(self, engine: str) -> None:
        """A job of this queue stopped running here: its slot may take another."""
        with self._lock:
            self._held.discard(engine)
            self._ended[engine] = self._ended.get(engine, 0) + 1

    def limited(self, engines: Iterable[str]) -> list[str]:
        """The engines among these whose claims must count running jobs under a lock."""
        with self._lock:
            return self._controls.limited(engines)


@dataclass(frozen=True)
class Registration:
    """What a worker process tells the registry of itself."""

    worker_id: str
    queues: list[str]
    threads: int


async def look_at_controls(gate: QueueGate, pool: asyncpg.Pool, me: Registration) -> None:
    """Say this process is alive, and read the queue controls into its gate."""
    await workers.register(
        pool, me.worker_id, host=socket.gethostname(), pid=os.getpid(), queues=me.queues, threads=me.threads
    )
    gate.refresh(await controls.control_state(pool))


async def watch_controls(gate: QueueGate, pool: asyncpg.Pool, me: Registration, interval: float) -> None:
    """`look_at_controls` every `interval` seconds; a database that does not answer keeps the
    last controls (its claims fail meanwhile anyway)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await look_at_controls(gate, pool, me)
        except Exception as exc:
            log.warning("queue_controls_unread", error=str(exc) or type(exc).__name__)
