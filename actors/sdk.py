"""The operation SDK: implement an engine operation whose contract schemas.contracts declares.

    from schemas.contracts.text_intelligence import SUMMARIZE, SummarizeParams, Summary

    @operation(SUMMARIZE)
    def summarize(ctx: JobContext, p: SummarizeParams) -> Summary:
        ctx.progress(0.5, "scoring sentences")
        ctx.raise_if_cancelled()
        ...

Implementing registers the operation in `REGISTRY`. The gateway and the scheduler load only the
contracts; a worker loads the implementations of its queues' engines (`load_engines`), so the
libraries an engine needs are imported where its jobs run and nowhere else.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec
import structlog
from dramatiq.middleware.threading import Interrupt

from infra import artifacts
from schemas.artifacts import NAME as ARTIFACT_NAME
from schemas.artifacts import ArtifactInput, ArtifactView
from schemas.contracts import Contract, load_contracts
from schemas.engines import QUEUES
from schemas.jobs import PROGRESS_DIGITS

if TYPE_CHECKING:
    import asyncpg

    from infra.settings import Settings

P = TypeVar("P", bound=msgspec.Struct)
R = TypeVar("R", bound=msgspec.Struct)
T = TypeVar("T")
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
    _workdir: Path | None = field(default=None, repr=False)

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report progress (0–1) and what is happening; written back and throttled by the worker."""
        if message is not None:
            message = message.replace("\x00", "\\0")[:MAX_PROGRESS_MESSAGE]  # storable, and short
        with self._lock:
            self._progress = (round(min(max(float(fraction), 0.0), 1.0), PROGRESS_DIGITS), message)

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

    def save_artifact(self, name: str, content: bytes | Path | Iterable[bytes], content_type: str) -> ArtifactView:
        """Store a binary output of this job (bytes, a file, or pieces of it), in chunks, under
        `name`; listed and served at /v1/jobs/{id}/artifacts. Saving a name again replaces it.

        Raises PermanentError for a bad name or past CONVEYOR_MAX_ARTIFACT_BYTES, and LeaseLost
        if the job no longer runs this attempt.
        """
        if not ARTIFACT_NAME.fullmatch(name):
            raise PermanentError(f"artifact name {name!r}: letters, digits, '.', '_' or '-', up to 128")
        limit = self.settings.max_artifact_bytes
        if not self.database(lambda pool: artifacts.begin(pool, self.job_id, name, content_type, self.attempt)):
            raise LeaseLost()
        digest, size = hashlib.sha256(), 0
        for seq, chunk in enumerate(_chunks(content, artifacts.CHUNK_BYTES)):
            size += len(chunk)
            if size > limit:
                raise PermanentError(f"artifact {name} is larger than CONVEYOR_MAX_ARTIFACT_BYTES ({limit} bytes)")
            self.raise_if_cancelled()
            digest.update(chunk)
            if not self.database(functools.partial(_add_chunk, job_id=self.job_id, name=name, seq=seq,
                                                   data=chunk, attempt=self.attempt)):  # fmt: skip
                raise LeaseLost()
        sha256 = digest.hexdigest()
        if not self.database(lambda pool: artifacts.finish(pool, self.job_id, name, size, sha256, self.attempt)):
            raise LeaseLost()
        return ArtifactView(name=name, content_type=content_type, size=size, sha256=sha256)

    def workdir(self) -> Path:
        """A directory of this job's own for files it makes or reads; removed when the job ends."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"conveyor-{self.job_id}-"))
        return self._workdir

    def discard_workdir(self) -> None:
        """Remove the job's directory and what is in it (the worker's side, once the job ends)."""
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def fetch_artifact(self, ref: ArtifactInput) -> FetchedArtifact:
        """Copy an artifact of an earlier job of this tenant (an input such as
        `{"$artifact": "<job id>/<name>"}`) into the job's directory, a chunk at a time.

        Raises PermanentError if there is no such finished artifact for this tenant, or it
        changed while being read.
        """
        row = self.database(lambda pool: artifacts.find(pool, ref.job_id, self.tenant, ref.name))
        if row is None:
            raise PermanentError(f"no artifact {ref.ref} (a finished artifact of a job of this tenant)")
        target = self.workdir() / f"{ref.job_id.hex[:12]}-{ref.name}"
        size, chunk_bytes, digest = row["size"], row["chunk_bytes"], hashlib.sha256()
        with target.open("wb") as out:
            for seq in range((size + chunk_bytes - 1) // chunk_bytes):
                self.raise_if_cancelled()
                data = self.database(functools.partial(_chunk, job_id=ref.job_id, name=ref.name, seq=seq))
                if data is None:
                    raise PermanentError(f"artifact {ref.ref} was removed while being read")
                digest.update(data)
                out.write(data)
        if digest.hexdigest() != row["sha256"]:
            raise PermanentError(f"artifact {ref.ref} changed while being read")
        return FetchedArtifact(ref.ref, target, row["content_type"], size, row["sha256"])

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
class FetchedArtifact:
    """An input artifact, copied into the job's directory."""

    ref: str
    path: Path
    content_type: str
    size: int
    sha256: str


async def _chunk(pool: asyncpg.Pool, *, job_id: uuid.UUID, name: str, seq: int) -> bytes | None:
    return await artifacts.chunk(pool, job_id, name, seq)


async def _add_chunk(pool: asyncpg.Pool, *, job_id: uuid.UUID, name: str, seq: int, data: bytes, attempt: int) -> bool:
    return await artifacts.add_chunk(pool, job_id, name, seq, data, attempt)


def _chunks(content: bytes | Path | Iterable[bytes], size: int) -> Iterator[bytes]:
    """`content` in pieces of `size` bytes (the last one shorter)."""
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        yield from (data[i : i + size] for i in range(0, max(len(data), 1), size)) if data else iter(())
        return
    if isinstance(content, Path):
        with content.open("rb") as file:
            while piece := file.read(size):
                yield piece
        return
    pending = b""
    for piece in content:
        pending += piece
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


@dataclass(frozen=True)
class Operation:
    """An engine operation a worker can run: its contract and the function that implements it."""

    contract: Contract
    fn: Callable[[JobContext, Any], Any]
    #: Exceptions (of the libraries it uses) that fail a job at once, as PermanentError does.
    permanent_errors: tuple[type[BaseException], ...] = ()

    @property
    def engine(self) -> str:
        """The engine (or internal queue)."""
        return self.contract.engine

    @property
    def name(self) -> str:
        """The operation's name within its engine."""
        return self.contract.name

    @property
    def key(self) -> str:
        """`engine.name`, also the name of its Dramatiq actor."""
        return self.contract.key

    @property
    def params(self) -> type[msgspec.Struct]:
        """The Struct of its params."""
        return self.contract.params

    @property
    def result(self) -> type[msgspec.Struct]:
        """The Struct of its result."""
        return self.contract.result

    @property
    def timeout_seconds(self) -> float | None:
        """Its jobs' default time limit."""
        return self.contract.timeout_seconds

    @property
    def diagnostic(self) -> bool:
        """Whether it is offered only with CONVEYOR_DIAGNOSTICS=1."""
        return self.contract.diagnostic

    @property
    def internal(self) -> bool:
        """Whether it belongs to a queue of Conveyor's own."""
        return self.contract.internal


class Registry:
    """Every implemented operation, by engine and name."""

    def __init__(self) -> None:
        self._operations: dict[tuple[str, str], Operation] = {}

    def add(self, op: Operation) -> None:
        """Register the implementation of a contract (one per contract)."""
        if (op.engine, op.name) in self._operations:
            raise ValueError(f"operation {op.key} is implemented twice")
        self._operations[(op.engine, op.name)] = op

    def get(self, engine: str, name: str) -> Operation | None:
        """An operation, internal ones included, or None."""
        return self._operations.get((engine, name))

    def operations(self, engine: str | None = None) -> list[Operation]:
        """Operations of one engine, or all, sorted by key."""
        ops = (op for op in self._operations.values() if engine is None or op.engine == engine)
        return sorted(ops, key=lambda op: op.key)

    def only(self, engines: Iterable[str], *, diagnostics: bool) -> Registry:
        """The operations of these engines (queues), without the diagnostic ones unless `diagnostics`."""
        wanted = set(engines)
        kept = Registry()
        for op in self.operations():
            if op.engine in wanted and (diagnostics or not op.diagnostic):
                kept.add(op)
        return kept


REGISTRY = Registry()


def operation(
    declared: Contract,
    *,
    permanent_errors: tuple[type[BaseException], ...] = (),
    registry: Registry = REGISTRY,
) -> Callable[[Callable[[JobContext, P], R]], Callable[[JobContext, P], R]]:
    """Implement the operation of contract `declared` as `fn(ctx, params) -> result`.

    Exceptions of the classes in `permanent_errors` fail a job at once, as PermanentError does;
    any other exception is taken as transient and retried.
    """

    def register(fn: Callable[[JobContext, P], R]) -> Callable[[JobContext, P], R]:
        registry.add(Operation(declared, fn, permanent_errors))
        return fn

    return register


def load_engines(
    queues: Iterable[str] | None = None, *, diagnostics: bool = False, package: str = "actors.engines"
) -> Registry:
    """Import the implementations of these queues' engines (every one when None), each module of
    `package` named after its engine; the registry of their operations (without the diagnostic
    ones unless `diagnostics`, settings.diagnostics, is on).

    Raises RuntimeError if a contract of a loaded engine has no implementation.
    """
    wanted = list(QUEUES if queues is None else queues)
    contracts = load_contracts(diagnostics=True)
    for queue in wanted:
        try:
            importlib.import_module(f"{package}.{queue}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{queue}":
                raise
    registry = REGISTRY.only(wanted, diagnostics=diagnostics)
    missing = [
        c.key
        for c in contracts.operations()
        if c.engine in wanted and (diagnostics or not c.diagnostic) and registry.get(c.engine, c.name) is None
    ]
    if missing:
        raise RuntimeError(f"operations without an implementation: {', '.join(missing)}")
    return registry
