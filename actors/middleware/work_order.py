"""Every worker runs the highest-priority message it holds first, and holds two per thread.

Run by `python -m actors.worker` (what `conveyor worker` supervises) or by the `dramatiq`
command, a worker boots through this middleware, so both follow one rule: prefetch
`CONVEYOR_WORKER_PREFETCH` messages per queue, or two per thread when it is 0, into an
in-memory queue ordered by broker priority (actors/work_queue.py). The spare messages keep
threads busy between jobs, and a critical one prefetched behind low ones still goes first.
"""

from __future__ import annotations

import dramatiq

from actors.work_queue import BrokerPriorityQueue


def queue_prefetch(prefetch: int, threads: int) -> int:
    """Messages a worker holds per queue: `prefetch`, or two per thread when it is 0."""
    return prefetch or 2 * threads


class WorkOrder(dramatiq.Middleware):
    """Sets a booting worker's prefetch and priority-ordered work queue."""

    def __init__(self, prefetch: int) -> None:
        self.prefetch = prefetch

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        """Before its consumers exist: order the work queue by broker priority, set the prefetch."""
        worker.work_queue = BrokerPriorityQueue()
        worker.queue_prefetch = queue_prefetch(self.prefetch, worker.worker_threads)
