"""Baseline: how fast bare Dramatiq drains a backlog of no-op messages on the same broker.

Run as a program: it fills a queue, starts P worker processes of T threads, and prints one
JSON line with the drain rate, measured from the first message started to the last finished.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from typing import Any


def _broker(url: str) -> Any:
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=url, max_priority=10)
    dramatiq.set_broker(broker)
    return broker


def _worker(url: str, queue: str, threads: int, total: int, done: Any, first: Any, last: Any, stop: Any) -> None:
    import dramatiq

    broker = _broker(url)

    @dramatiq.actor(queue_name=queue, max_retries=0)
    def noop() -> None:
        now = time.time()
        with done.get_lock():
            if first.value == 0:
                first.value = now
            done.value += 1
            last.value = now

    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=threads)
    worker.start()
    stop.wait()
    worker.stop(timeout=5000)
    broker.close()


def run(url: str, queue: str, processes: int, threads: int, total: int) -> dict[str, Any]:
    """Fill `queue` with `total` no-op messages, drain them, and return the figures."""
    import dramatiq

    broker = _broker(url)
    broker.flush(queue) if queue in broker.get_declared_queues() else None

    @dramatiq.actor(queue_name=queue, max_retries=0)
    def noop() -> None:  # the same actor, declared here to enqueue
        return None

    for _ in range(total):
        noop.send()
    broker.close()
    context = multiprocessing.get_context("spawn")
    done, first, last = context.Value("i", 0), context.Value("d", 0.0), context.Value("d", 0.0)
    stop = context.Event()
    workers = [
        context.Process(target=_worker, args=(url, queue, threads, total, done, first, last, stop))
        for _ in range(processes)
    ]
    for process in workers:
        process.start()
    deadline = time.time() + 300
    while done.value < total and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    for process in workers:
        process.join(30)
    elapsed = max(last.value - first.value, 1e-9)
    return {
        "processes": processes,
        "threads": threads,
        "jobs": done.value,
        "seconds": elapsed,
        "jobs_per_second": done.value / elapsed,
    }


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--url", default=os.environ.get("CONVEYOR_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    parser.add_argument("--queue", default="bench_bare")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    print(json.dumps(run(args.url, args.queue, args.processes, args.threads, args.jobs)))


if __name__ == "__main__":
    main()
