"""The worker entry module: builds the broker before any actor exists.

`python -m actors.worker --queues general --threads 8` runs one worker process (what
`conveyor worker` supervises); `dramatiq actors.worker` works too.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import dramatiq

from actors.middleware.job_lifecycle import EXPECTED, JobLifecycle
from actors.middleware.log_context import LogContext
from actors.middleware.work_order import WorkOrder
from actors.runtime import WorkerRuntime
from actors.sdk import Registry, load_engines
from infra.broker import build_broker
from infra.logging import configure_logging
from infra.settings import Settings, load_settings
from schemas.engines import QUEUES


def queues_asked(argv: list[str], settings: Settings) -> list[str]:
    """The engines (queues) a command line names with --queues: this module's names them, the
    dramatiq CLI's takes the same option with the queues' full names; every queue when it names
    none (or none that Conveyor knows)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--queues", "-Q", nargs="*", default=[])
    named = parser.parse_known_args(argv)[0].queues
    engines = [q for q in (name.removeprefix(settings.queue_prefix) for name in named) if q in QUEUES]
    return engines or list(QUEUES)


settings = load_settings()
configure_logging(settings, process="worker")
#: Only the engines of the queues this process serves: their libraries load here, no others.
registry = load_engines(queues_asked(sys.argv[1:], settings), diagnostics=settings.diagnostics)
runtime = WorkerRuntime(settings, registry)
broker = build_broker(
    settings, [LogContext(), JobLifecycle(runtime), WorkOrder(settings.worker_prefetch)], gate=runtime.gate
)
dramatiq.set_broker(broker)


#: How long past the shutdown timeout a stopping worker waits for released jobs to be recorded.
RELEASE_MARGIN_SECONDS = 5.0


def declare_actors(broker: dramatiq.Broker, settings: Settings, registry: Registry, runtime: WorkerRuntime) -> None:
    """One Dramatiq actor per operation, on its engine's queue."""
    for op in registry.operations():
        dramatiq.Actor(
            runtime.actor_fn(op),
            broker=broker,
            actor_name=op.key,
            queue_name=settings.queue_name(op.engine),
            priority=0,
            options={"throws": EXPECTED},
        )


declare_actors(broker, settings, registry, runtime)


def main(argv: list[str] | None = None) -> int:
    """Run one worker process until SIGTERM or SIGINT, then drain."""
    parser = argparse.ArgumentParser(prog="python -m actors.worker")
    parser.add_argument("--queues", nargs="*", default=[], choices=QUEUES, metavar="QUEUE")
    parser.add_argument("--threads", type=int, default=settings.worker_threads)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    queues = {settings.queue_name(q) for q in args.queues} or None
    runtime.queues, runtime.threads = list(args.queues or QUEUES), args.threads
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=args.threads)
    broker.emit_after("process_boot")
    worker.start()
    stop.wait()
    worker.stop(timeout=int((settings.shutdown_timeout_seconds + RELEASE_MARGIN_SECONDS) * 1000))
    broker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
