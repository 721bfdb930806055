"""One prefetch rule for every worker: two messages per thread, run highest priority first."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

from actors.middleware.work_order import WorkOrder, queue_prefetch
from actors.work_queue import BrokerPriorityQueue


def test_prefetch_is_the_setting_or_two_per_thread() -> None:
    assert queue_prefetch(0, 8) == 16
    assert queue_prefetch(3, 8) == 3


def test_a_booting_worker_gets_the_priority_queue_and_the_prefetch() -> None:
    # Given a worker of 3 threads as the `dramatiq` command would build it (no settings of ours)
    broker = StubBroker(middleware=[WorkOrder(prefetch=0)])
    worker = dramatiq.Worker(broker, worker_threads=3)
    # When it boots
    broker.emit_before("worker_boot", worker)
    # Then it holds two messages per thread in a queue ordered by broker priority
    assert worker.queue_prefetch == 6
    assert isinstance(worker.work_queue, BrokerPriorityQueue)
    broker.close()
