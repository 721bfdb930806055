"""Turning submitted jobs into stored, queued, published ones (gateway and scheduler)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from infra import batches, jobs
from infra.db import retry_deadlocks
from infra.dependencies import link_dependencies
from infra.dispatch import Dispatcher
from infra.jobs import NewJob, to_dispatch
from infra.settings import Settings
from schemas.contracts import Contracts
from schemas.engines import ENGINES
from schemas.errors import FieldError, field_error, join_path, nul_errors
from schemas.events import JOB_EVENT_TYPES
from schemas.ids import uuid7
from schemas.jobs import (
    MAX_DELAY_SECONDS,
    JobBatchSubmit,
    JobStatus,
    JobSubmit,
    dependency_errors,
    due_time,
    find_refs,
    notify_errors,
    priority_value,
)


class SubmitError(Exception):
    """A submission refused as a whole, with the fields at fault."""

    def __init__(
        self, errors: list[FieldError], *, status: int = 422, code: str = "invalid_job", retry_after: int | None = None
    ) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.status = status
        self.code = code
        #: Seconds after which the same submission may succeed (a full queue), else None.
        self.retry_after = retry_after


def build_job(
    submit: JobSubmit, registry: Contracts, settings: Settings, *, at: str = "", check_params: bool = True
) -> NewJob:
    """Check a submitted job against its operation and give it an id; SubmitError if it does not fit.

    `check_params` False leaves params as given (a workflow node's `$ref`s are checked once
    resolved); so are the params of a job whose `$ref`s read the jobs it depends on.
    """
    text = {"params": submit.params, "metadata": submit.metadata, "idempotency_key": submit.idempotency_key}
    errors = nul_errors(text, at)  # engine, operation and tags are checked against names and patterns
    errors += notify_errors(submit.notify, join_path(at, "notify"), allowed=JOB_EVENT_TYPES)
    if check_params:
        errors += dependency_errors(submit, at)
    if errors:
        raise SubmitError(errors)
    if not submit.engine or not submit.operation:
        missing = "engine" if not submit.engine else "operation"
        raise SubmitError([FieldError(join_path(at, missing), "required: give engine and operation, or a template")])
    if submit.engine not in ENGINES:
        raise SubmitError(
            [
                FieldError(
                    join_path(at, "engine"),
                    f"unknown engine {submit.engine!r}; engines: {', '.join(ENGINES)}",
                )
            ]
        )
    op = registry.offered(submit.engine, submit.operation)
    if op is None:
        known = ", ".join(o.name for o in registry.operations(submit.engine)) or "none"
        raise SubmitError(
            [
                FieldError(
                    join_path(at, "operation"),
                    f"unknown operation {submit.operation!r} of engine {submit.engine!r}; operations: {known}",
                )
            ]
        )
    errors = [
        FieldError(join_path(at, f"retry_on[{index}]"), problem)
        for index, entry in enumerate(submit.retry_on or [])
        if (problem := op.retry_on_problem(entry)) is not None
    ]
    if errors:
        raise SubmitError(errors)
    params = submit.params
    try:
        if check_params and next(find_refs(submit.params), None) is None:
            params = msgspec.to_builtins(msgspec.convert(submit.params, op.params))
    except msgspec.ValidationError as exc:
        raise SubmitError([field_error(str(exc), join_path(at, "params"))]) from None
    run_at = job_due_time(submit, at)
    if submit.retry_backoff_max_seconds < submit.retry_backoff_seconds:
        raise SubmitError(
            [FieldError(join_path(at, "retry_backoff_max_seconds"), "must not be below retry_backoff_seconds")]
        )
    status = JobStatus.QUEUED if run_at is None else JobStatus.SCHEDULED
    return NewJob(
        id=uuid7(),
        engine=submit.engine,
        operation=submit.operation,
        status=JobStatus.WAITING if submit.depends_on else status,
        priority=priority_value(submit.priority),
        params=params,
        max_retries=submit.max_retries,
        retry_backoff_seconds=submit.retry_backoff_seconds,
        retry_backoff_max_seconds=submit.retry_backoff_max_seconds,
        timeout_seconds=submit.timeout_seconds or op.timeout_seconds or settings.default_timeout_seconds,
        tags=submit.tags,
        metadata=submit.metadata,
        idempotency_key=submit.idempotency_key,
        run_at=run_at,
        notify=None if submit.notify is None else msgspec.to_builtins(submit.notify),
        depends_on=submit.depends_on,
        on_dependency_failure=submit.on_dependency_failure,
        retry_on=None if submit.retry_on is None else list(dict.fromkeys(submit.retry_on)),
        template=submit.template,
    )


def job_due_time(submit: JobSubmit, at: str) -> datetime | None:
    """When a job asked to run later is due (None: now); SubmitError for a contradictory or far time."""
    if submit.run_at is not None and submit.delay_seconds is not None:
        raise SubmitError([FieldError(join_path(at, "delay_seconds"), "give run_at or delay_seconds, not both")])
    now = datetime.now(UTC)
    if submit.run_at is not None and submit.run_at > now + timedelta(seconds=MAX_DELAY_SECONDS):
        message = f"must be within {MAX_DELAY_SECONDS // 86400} days from now"
        raise SubmitError([FieldError(join_path(at, "run_at"), message)])
    return due_time(now, submit.run_at, submit.delay_seconds)


def build_jobs(submits: Sequence[JobSubmit], registry: Contracts, settings: Settings, *, at: str) -> list[NewJob]:
    """Check a batch: every problem of every job is reported, and nothing is built if one fails."""
    built: list[NewJob] = []
    errors: list[FieldError] = []
    seen_keys: dict[str, int] = {}
    for index, submit in enumerate(submits):
        where = f"{at}[{index}]"
        try:
            built.append(build_job(submit, registry, settings, at=where))
        except SubmitError as exc:
            errors += exc.errors
        key = submit.idempotency_key
        if key is not None and key in seen_keys:
            errors.append(FieldError(f"{where}.idempotency_key", f"repeats the key of {at}[{seen_keys[key]}]"))
        elif key is not None:
            seen_keys[key] = index
    if errors:
        raise SubmitError(errors)
    return built


Stored = list[tuple[asyncpg.Record, bool]]
"""Each job of a submission: its row, and whether this submission created it."""


async def store_jobs(pool: asyncpg.Pool, tenant: str, new: Sequence[NewJob], *, at: str = "") -> Stored:
    """Store jobs in one transaction; (row, created) each, in order. `at`: where a batch's jobs
    are in the body ("jobs"), for the fields errors name.

    A job whose idempotency key the tenant used before comes back as the earlier job
    (created False); if the earlier job was a different request, nothing is stored.
    """
    return await retry_deadlocks(pool, lambda conn: _store(conn, tenant, new, at))


async def store_batch(
    pool: asyncpg.Pool, tenant: str, new: Sequence[NewJob], *, key: str, body_hash: bytes
) -> tuple[Stored, bool]:
    """Store a batch under an idempotency key, its jobs and the key in one transaction; the jobs
    and True. For a key the tenant used before: that batch's jobs (created False) and False if
    the body is the same; SubmitError 409 if it is not. Nothing is stored then."""

    async def store(conn: asyncpg.Connection) -> tuple[Stored, bool]:
        if await batches.claim_batch(conn, tenant, key, body_hash, [job.id for job in new]):
            stored = await _store(conn, tenant, new, "jobs")
            if any(row["id"] != job.id for (row, _), job in zip(stored, new, strict=True)):
                await batches.record_batch_jobs(conn, tenant, key, [row["id"] for row, _ in stored])
            return stored, True
        earlier = await batches.get_batch(conn, tenant, key)
        assert earlier is not None  # the claim that won has committed
        if earlier["body_hash"] != body_hash:
            message = "was used for a different batch of jobs"
            raise SubmitError([FieldError("idempotency_key", message)], status=409, code="idempotency_conflict")
        return [(row, False) for row in await batches.jobs_in_order(conn, tenant, earlier["job_ids"])], False

    return await retry_deadlocks(pool, store)


def batch_hash(batch: JobBatchSubmit) -> bytes:
    """What tells two batches apart: SHA-256 of the batch as canonical JSON (defaults filled in,
    keys sorted), so spacing and key order do not matter."""
    return hashlib.sha256(msgspec.json.encode(batch, order="sorted")).digest()


async def _store(conn: asyncpg.Connection, tenant: str, new: Sequence[NewJob], at: str) -> Stored:
    """Store jobs in the caller's transaction; see store_jobs."""
    rows = {row["id"]: row for row in await jobs.insert_jobs(conn, tenant, new)}
    repeated = [job for job in new if job.id not in rows]
    earlier = {}
    if repeated:
        keys = [job.idempotency_key for job in repeated if job.idempotency_key is not None]
        earlier = {row["idempotency_key"]: row for row in await jobs.jobs_by_idempotency_key(conn, tenant, keys)}
    out: list[tuple[asyncpg.Record, bool]] = []
    for index, job in enumerate(new):
        if job.id in rows:
            out.append((rows[job.id], True))
            continue
        row = earlier[job.idempotency_key]
        if (row["engine"], row["operation"], row["params"]) != (job.engine, job.operation, job.params):
            field = join_path(f"{at}[{index}]" if at else "", "idempotency_key")
            message = f"was used for a different job ({row['id']}) with other engine, operation or params"
            raise SubmitError([FieldError(field, message)], status=409, code="idempotency_conflict")
        out.append((row, False))
    waiting = [(index, job) for index, job in enumerate(new) if job.depends_on and job.id in rows]
    if waiting:
        await _link(conn, tenant, waiting, at)
        now = {row["id"]: row for row in await batches.jobs_in_order(conn, tenant, [job.id for _, job in waiting])}
        out = [(now.get(row["id"], row), created) for row, created in out]
    return out


async def _link(conn: asyncpg.Connection, tenant: str, waiting: Sequence[tuple[int, NewJob]], at: str) -> None:
    """Link new jobs to the jobs they depend on; SubmitError naming each `depends_on[i]` that is
    no job of the tenant's (a job may depend only on jobs that exist: no cycle can form)."""
    links = [(job.id, dep) for _, job in waiting for dep in job.depends_on]
    made = await link_dependencies(conn, tenant, links)
    errors = [
        FieldError(join_path(f"{at}[{index}]" if at else "", f"depends_on[{i}]"), f"no job {dep} of yours")
        for index, job in waiting
        for i, dep in enumerate(job.depends_on)
        if (job.id, dep) not in made
    ]
    if errors:
        raise SubmitError(errors)


async def submit_jobs(dispatcher: Dispatcher, tenant: str, new: Sequence[NewJob], *, at: str = "") -> Stored:
    """Store jobs, then hand the queued ones to the dispatcher (the outbox relay covers a failed publish)."""
    stored = await store_jobs(dispatcher.pool, tenant, new, at=at)
    publish(dispatcher, stored)
    return stored


async def submit_batch(
    dispatcher: Dispatcher, tenant: str, new: Sequence[NewJob], *, key: str, body_hash: bytes
) -> tuple[Stored, bool]:
    """store_batch, then hand the queued jobs it created to the dispatcher."""
    stored, created = await store_batch(dispatcher.pool, tenant, new, key=key, body_hash=body_hash)
    publish(dispatcher, stored)
    return stored, created


def publish(dispatcher: Dispatcher, stored: Stored) -> None:
    """Hand the queued jobs this submission created to the dispatcher. A job that depends on
    others is left to the outbox relay: it was queued, if at all, by its dependencies' release."""
    dispatcher.send(
        [
            to_dispatch(row)
            for row, created in stored
            if created and row["status"] == JobStatus.QUEUED and not row["depends_on"]
        ]
    )
