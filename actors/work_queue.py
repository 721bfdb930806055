"""Dramatiq's in-memory work queue, ordered by each message's broker priority first.

RabbitMQ hands out higher-priority messages first, but a worker holds up to its prefetch count
in memory, and Dramatiq orders those by actor priority only: a critical message would wait
behind the low ones already prefetched. This queue puts it at the front, so a worker can
prefetch more messages than it has threads (keeping threads busy) without priority suffering.
"""

from __future__ import annotations

import dataclasses
from queue import PriorityQueue
from typing import Any


class BrokerPriorityQueue(PriorityQueue[Any]):
    """Orders work by (-broker_priority, actor priority, arrival)."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue a Dramatiq work item, ranked by its message's broker priority."""
        rank = -int(item.message.options.get("broker_priority") or 0)
        super().put(dataclasses.replace(item, priority=(rank, item.priority)), block, timeout)
