"""The operation SDK: declare an engine operation once, with typed params and result.

    @operation("text_intelligence", "summarize", params=SummarizeParams, result=Summary)
    def summarize(ctx: JobContext, p: SummarizeParams) -> Summary:
        ctx.progress(0.5, "scoring sentences")
        ctx.raise_if_cancelled()
        ...

Declaring registers the operation in `REGISTRY`; nothing here connects to anything, so the
gateway imports the same registry to validate params and publish their JSON Schema.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec
import structlog
from dramatiq.middleware.threading import Interrupt

from schemas.engines import ENGINES, NOTIFICATIONS

if TYPE_CHECKING:
    import asyncpg

    from infra.settings import Settings

P = TypeVar("P", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)
T = TypeVar("T")
#: Queues of Conveyor's own, whose operations are internal.
INTERNAL_QUEUES: tuple[str, ...] = (NOTIFICATIONS,)
MAX_PROGRESS_MESSAGE = 1000


class JobError(Exception):
    """Base of the errors an operation raises to say how its job should end."""


class TransientError(JobError):
    """Something that may work later (a rate limit, a flaky upstream): retry with backoff, or
    after `retry_in` seconds when the operation keeps a schedule of its own."""

    def __init__(self, message: str = "", *, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class PermanentError(JobError):
    """Retrying cannot help (bad input, a refused request): fail the job now."""


class JobInterrupt(Interrupt):
    """Raised inside a running operation to stop it; not an error of the operation."""


class JobCancelled(JobInterrupt):
    """The job was cancelled."""


class JobTimedOut(JobInterrupt):
    """The job ran past its time limit."""


class LeaseLost(JobInterrupt):
    """Another worker took the job over; this attempt's outcome no longer counts."""


class JobReleased(JobInterrupt):
    """The worker is stopping and the job outlived the shutdown timeout: it goes back to the queue."""


class WorkerServices(Protocol):
    """What a worker process lends the operations it runs."""

    settings: Settings

    def run_db(self, work: Callable[[asyncpg.Pool], Awaitable[T]], timeout: float | None) -> T:
        """Run `work(pool)` on the process's database loop and wait for its result."""
        ...


@dataclass(eq=False)
class JobContext:
    """What an operation knows of the job it runs, and how it talks back."""

    job_id: uuid.UUID
    tenant: str
    engine: str
    operation: str
    attempt: int
    #: Attempts since the job was last replayed or retried by hand (1 on the first).
    tries: int = 1
    services: WorkerServices | None = field(default=None, repr=False)
    logger: Any = field(default_factory=lambda: structlog.get_logger("conveyor.operation"))
    _cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _progress: tuple[float, str | None] | None = field(default=None, repr=False)

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress (0–1) and what is happening; written back and throttled by the worker."""
        if message is not None:
            message = message.replace("\x00", "\\0")[:MAX_PROGRESS_MESSAGE]  # storable, and short
        with self._lock:
            self._progress = (min(max(float(fraction), 0.0), 1.0), message)

    def raise_if_cancelled(self) -> None:
        """A cancellation point: raises JobCancelled if the job was cancelled."""
        if self._cancelled.is_set():
            raise JobCancelled()

    @property
    def cancelled(self) -> bool:
        """Whether the job was cancelled."""
        return self._cancelled.is_set()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking at once (with JobCancelled) if the job is cancelled meanwhile."""
        if self._cancelled.wait(max(seconds, 0.0)):
            raise JobCancelled()

    @property
    def settings(self) -> Settings:
        """The worker's settings."""
        return self._services().settings

    def database(self, work: Callable[[asyncpg.Pool], Awaitable[T]], *, timeout: float | None = 60.0) -> T:
        """Run `work(pool)` on the worker's database loop (its asyncpg pool) and wait for it.

        The coroutine runs on the loop that owns the pool, never on this thread; a timeout
        leaves it running there and raises TimeoutError here.
        """
        return self._services().run_db(work, timeout)

    def _services(self) -> WorkerServices:
        if self.services is None:
            raise RuntimeError(f"{self.engine}.{self.operation} runs outside a worker: no database or settings")
        return self.services

    def take_progress(self) -> tuple[float, str | None] | None:
        """The progress reported since the last call, if any (the worker's side)."""
        with self._lock:
            reported, self._progress = self._progress, None
            return reported

    def cancel(self) -> None:
        """Mark the job cancelled (the worker's side)."""
        self._cancelled.set()


@dataclass(frozen=True)
class Operation:
    """An engine operation: its function and the Structs of its params and result."""

    engine: str
    name: str
    fn: Callable[[JobContext, Any], Any]
    params: type[msgspec.Struct]
    result: type[msgspec.Struct]
    description: str
    timeout_seconds: float | None = None
    permanent_errors: tuple[type[BaseException], ...] = ()
    #: Only offered when CONVEYOR_DIAGNOSTICS=1 (it ignores cancellation and time limits).
    diagnostic: bool = False
    #: Run by workers for Conveyor itself (on a queue that is not an engine, such as
    #: `notifications`); never offered to clients.
    internal: bool = False

    @property
    def key(self) -> str:
        """`engine.name`, also the name of its Dramatiq actor."""
        return f"{self.engine}.{self.name}"

    def params_schema(self) -> dict[str, Any]:
        """JSON Schema of the params."""
        return msgspec.json.schema(self.params)

    def result_schema(self) -> dict[str, Any]:
        """JSON Schema of the result."""
        return msgspec.json.schema(self.result)


class Registry:
    """Every declared operation, by engine and name."""

    def __init__(self) -> None:
        self._operations: dict[tuple[str, str], Operation] = {}

    def add(self, op: Operation) -> None:
        """Register an operation; its engine must exist (or, for an internal one, its queue)
        and its name be new."""
        if op.internal and op.engine not in INTERNAL_QUEUES:
            raise ValueError(f"unknown internal queue {op.engine!r}; internal queues: {', '.join(INTERNAL_QUEUES)}")
        if not op.internal and op.engine not in ENGINES:
            raise ValueError(f"unknown engine {op.engine!r}; engines: {', '.join(ENGINES)}")
        if (op.engine, op.name) in self._operations:
            raise ValueError(f"operation {op.key} is declared twice")
        self._operations[(op.engine, op.name)] = op

    def get(self, engine: str, name: str) -> Operation | None:
        """An operation, internal ones included, or None."""
        return self._operations.get((engine, name))

    def offered(self, engine: str, name: str) -> Operation | None:
        """An operation clients may submit (not an internal one), or None."""
        op = self.get(engine, name)
        return None if op is None or op.internal else op

    def operations(self, engine: str | None = None) -> list[Operation]:
        """Operations of one engine, or all, sorted by key."""
        ops = (op for op in self._operations.values() if engine is None or op.engine == engine)
        return sorted(ops, key=lambda op: op.key)

    def without_diagnostics(self) -> Registry:
        """A registry of the same operations but the diagnostic ones."""
        kept = Registry()
        for op in self.operations():
            if not op.diagnostic:
                kept.add(op)
        return kept


REGISTRY = Registry()


def operation(
    engine: str,
    name: str,
    *,
    params: type[P],
    result: type[R],
    timeout_seconds: float | None = None,
    permanent_errors: tuple[type[BaseException], ...] = (),
    diagnostic: bool = False,
    internal: bool = False,
    registry: Registry = REGISTRY,
) -> Callable[[Callable[[JobContext, P], R]], Callable[[JobContext, P], R]]:
    """Declare `fn(ctx, params) -> result` as operation `name` of `engine`.

    `timeout_seconds` is the default time limit of its jobs; exceptions of the classes in
    `permanent_errors` fail a job at once, as PermanentError does; any other exception is
    taken as transient and retried. A `diagnostic` operation is left out of the registry
    `load_engines` answers unless diagnostics are on. An `internal` one belongs to a queue of
    Conveyor's own (`notifications`): workers run it, clients cannot submit it.
    """

    def register(fn: Callable[[JobContext, P], R]) -> Callable[[JobContext, P], R]:
        description = (fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        registry.add(
            Operation(
                engine, name, fn, params, result, description, timeout_seconds, permanent_errors, diagnostic, internal
            )
        )
        return fn

    return register


def load_engines(package: str = "actors.engines", *, diagnostics: bool = False) -> Registry:
    """Import every engine module so that its operations register; the registry, without the
    diagnostic operations unless `diagnostics` (settings.diagnostics) is on."""
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(module.__path__, prefix=package + "."):
        importlib.import_module(info.name)
    return REGISTRY if diagnostics else REGISTRY.without_diagnostics()
