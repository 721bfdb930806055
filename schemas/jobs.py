"""Jobs: their states and transitions, priorities, and the job wire contract."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.errors import NUL_MESSAGE, FieldError
from schemas.ids import TEMPLATE_REF
from schemas.notifications import TELLS_SOMEONE, EmailAddress, EventName, WebhookUrl, event_errors


class JobStatus(enum.StrEnum):
    """Where a job is in its life."""

    SCHEDULED = "scheduled"  # run_at is in the future
    WAITING = "waiting"  # jobs it depends on (or upstream workflow nodes) unfinished
    QUEUED = "queued"  # published (or about to be) to its engine's queue
    RUNNING = "running"  # claimed by a worker
    RETRYING = "retrying"  # failed transiently, backoff pending
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # permanent error, timeout or retries exhausted; dead-lettered
    CANCELLED = "cancelled"


S = JobStatus
TERMINAL: frozenset[JobStatus] = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})

#: Every allowed status change. The database enforces the same table (migration 0001),
#: and a test keeps the two equal.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELLED}),
    S.WAITING: frozenset({S.SCHEDULED, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.RETRYING, S.CANCELLED, S.QUEUED}),
    S.RETRYING: frozenset({S.QUEUED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    # scheduled: a dead letter replayed at a paced rate; waiting: a workflow's node retried
    S.FAILED: frozenset({S.QUEUED, S.SCHEDULED, S.WAITING}),
    S.CANCELLED: frozenset({S.QUEUED, S.WAITING}),
}


def can_transition(source: JobStatus, target: JobStatus) -> bool:
    """Whether a job may go from `source` to `target`."""
    return target in TRANSITIONS[source]


def sources_of(target: JobStatus, *, excluding: frozenset[JobStatus] = frozenset()) -> list[str]:
    """The statuses a job may reach `target` from: the guard of a conditional UPDATE."""
    return sorted(s.value for s, targets in TRANSITIONS.items() if target in targets and s not in excluding)


class ErrorCategory(enum.StrEnum):
    """Why a job attempt failed; decides whether it is retried."""

    TRANSIENT = "transient"  # retried with backoff until max_retries
    PERMANENT = "permanent"  # failed at once
    TIMEOUT = "timeout"  # ran past timeout_seconds
    CANCELLED = "cancelled"  # stopped on request
    WORKER_LOST = "worker_lost"  # its worker died too many times while running it


PriorityName = Literal["low", "normal", "high", "critical"]
PRIORITY_NAMES: dict[str, int] = {"low": 1, "normal": 5, "high": 7, "critical": 9}
MAX_PRIORITY = 9


def due_time(now: datetime, run_at: datetime | None, delay_seconds: float | None) -> datetime | None:
    """When a job asked to run later is due; None when it runs now (no time, or a time passed)."""
    if delay_seconds is not None:
        run_at = now + timedelta(seconds=delay_seconds)
    if run_at is None or run_at <= now:
        return None
    return run_at


def priority_value(priority: int | str) -> int:
    """The numeric priority (0–9, higher runs first) of a number or a name."""
    if isinstance(priority, str):
        return PRIORITY_NAMES[priority]
    return priority


Tag = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/=-]+$")]
Seconds = Annotated[float, Meta(ge=0, le=30 * 86400)]
MAX_DELAY_SECONDS = 366 * 86400  # how far ahead a job may be scheduled


RetryOnEntry = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class JobSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What to run, and how: the fields a submitted job and a workflow node share. `engine` and
    `operation` are required, unless the job is made from a template that holds them."""

    engine: Annotated[str, Meta(max_length=64)] = ""
    operation: Annotated[str, Meta(max_length=64)] = ""
    params: dict[str, Any] = {}
    priority: Annotated[int, Meta(ge=0, le=MAX_PRIORITY)] | PriorityName = "normal"
    max_retries: Annotated[int, Meta(ge=0, le=100)] = 3
    retry_backoff_seconds: Seconds = 2.0
    retry_backoff_max_seconds: Seconds = 300.0
    timeout_seconds: Annotated[float, Meta(gt=0, le=7 * 86400)] | None = None
    tags: Annotated[list[Tag], Meta(max_length=32)] = []
    metadata: dict[str, Any] = {}
    run_at: Annotated[datetime, Meta(tz=True)] | None = None
    delay_seconds: Annotated[float, Meta(ge=0, le=MAX_DELAY_SECONDS)] | None = None
    #: The errors retried (up to max_retries): categories (transient, timeout, worker_lost) and
    #: error types (`error.type`, as GET /v1/engines lists them per operation); any other error
    #: fails the job at once. Null: transient errors are retried, a lost worker's job is taken over.
    retry_on: Annotated[list[RetryOnEntry], Meta(min_length=1, max_length=16)] | None = None


class Notify(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Whom to tell of one job's (or workflow's) events: a webhook (signed with the tenant's
    callback secret), e-mail addresses, the inbox. `events` empty: the terminal ones
    (schemas.events.TERMINAL_EVENT_TYPES)."""

    webhook: WebhookUrl | None = None
    email: Annotated[list[EmailAddress], Meta(max_length=10)] = []
    inbox: bool = False
    events: Annotated[list[EventName], Meta(max_length=32)] = []
    #: Published in the OpenAPI document: it tells someone.
    schema_rules: ClassVar[dict[str, Any]] = {"anyOf": TELLS_SOMEONE}


def notify_errors(notify: Notify | None, at: str, *, allowed: tuple[str, ...]) -> list[FieldError]:
    """What is wrong with a `notify` besides its webhook's address: it tells nobody, or names
    events that are not of `allowed`."""
    if notify is None:
        return []
    errors = event_errors(notify.events, f"{at}.events", allowed=allowed)
    if notify.webhook is None and not notify.email and not notify.inbox:
        errors.append(FieldError(at, "tells nobody: give a webhook, email addresses or inbox: true"))
    if notify.webhook is not None and "\x00" in notify.webhook:
        errors.append(FieldError(f"{at}.webhook", NUL_MESSAGE))
    return errors


MAX_DEPENDENCIES = 100  # jobs one job may wait for
OnDependencyFailure = Literal["cancel", "run"]
#: `<job id>.result` with an optional dotted path into its result, or `<job id>.artifacts.<name>`.
JOB_REF = re.compile(r"^(?P<id>[0-9a-f-]{36})\.(result(\.[^.]+)*|artifacts\.[A-Za-z0-9][A-Za-z0-9._-]{0,127})$")


class JobSubmit(JobSpec, kw_only=True):
    """A job as a client submits it.

    With `depends_on` (ids of the tenant's jobs) it waits until each has finished, then runs;
    if one did not succeed it is cancelled, or runs anyway with `on_dependency_failure: "run"`.
    Its params may read a dependency's result: `{"$ref": "<job id>.result.<path>"}`."""

    idempotency_key: Annotated[str, Meta(min_length=1, max_length=255)] | None = None
    notify: Notify | None = None
    depends_on: Annotated[list[uuid.UUID], Meta(max_length=MAX_DEPENDENCIES)] = []
    on_dependency_failure: OnDependencyFailure = "cancel"
    #: The template the job starts from: its name (the latest version) or `name@<version>`.
    #: The fields given here replace the template's; params and metadata merge into its own.
    template: Annotated[str, Meta(min_length=1, max_length=110, extra_json_schema=TEMPLATE_REF)] | None = None


def find_refs(value: Any) -> Iterator[str]:
    """Every `{"$ref": "..."}` string anywhere in a params value."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if len(value) == 1 and isinstance(ref, str):
            yield ref
            return
        for item in value.values():
            yield from find_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from find_refs(item)


def dependency_errors(submit: JobSubmit, at: str) -> list[FieldError]:
    """What is wrong with a job's `depends_on` (a job listed twice) and its `$ref`s (each must
    name a result or artifact of a job it depends on)."""
    at = f"{at}." if at else ""
    errors: list[FieldError] = []
    first: dict[uuid.UUID, int] = {}
    for index, dep in enumerate(submit.depends_on):
        if dep in first:
            errors.append(FieldError(f"{at}depends_on[{index}]", f"repeats depends_on[{first[dep]}]"))
        first.setdefault(dep, index)
    for ref in find_refs(submit.params):
        match = JOB_REF.match(ref)
        if match is None:
            message = 'write "<job id>.result", "<job id>.result.<path>" or "<job id>.artifacts.<name>"'
            errors.append(FieldError(f"{at}params", f'$ref "{ref}": {message}'))
        elif _uuid(match["id"]) not in first:
            errors.append(FieldError(f"{at}params", f'$ref "{ref}": {match["id"]} is not in depends_on'))
    return errors


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class JobBatchSubmit(msgspec.Struct, forbid_unknown_fields=True):
    """Up to 1,000 jobs accepted or refused together."""

    jobs: Annotated[list[JobSubmit], Meta(min_length=1, max_length=1000)]


class JobError(msgspec.Struct):
    """The last error of a job."""

    type: str
    message: str
    category: ErrorCategory


class JobEta(msgspec.Struct, kw_only=True):
    """When a queued job is expected to run: from the jobs ahead of it (same queue, higher or
    equal priority, older), its operation's recent mean run time and the queue's capacity."""

    #: 1 for the next job of its queue to start.
    position: int
    estimated_start_at: datetime | None
    estimated_finish_at: datetime | None


#: Progress is kept and shown to a tenth of a percent (the column is a 4-byte float).
PROGRESS_DIGITS = 3


class JobView(msgspec.Struct, kw_only=True):
    """A job as the API shows it."""

    id: uuid.UUID
    engine: str
    operation: str
    status: JobStatus
    priority: int
    params: dict[str, Any]
    progress: float
    progress_message: str | None
    result: Any
    error: JobError | None
    attempts: int
    max_retries: int
    retry_backoff_seconds: float
    retry_backoff_max_seconds: float
    #: The errors it is retried on (null: transient ones).
    retry_on: list[str] | None = None
    timeout_seconds: float
    tags: list[str]
    metadata: dict[str, Any]
    idempotency_key: str | None
    run_at: datetime | None
    cancel_requested_at: datetime | None
    #: The worker process running the job, or the last one that ran it.
    worker_id: str | None = None
    workflow_id: uuid.UUID | None = None
    node_key: str | None = None
    item_index: int | None = None  # which element of its node's for_each list
    schedule_id: uuid.UUID | None = None  # the cron schedule that created it
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: The template version it was made from (`name@<version>`), if any.
    template: str | None = None
    #: The jobs it waits for (or waited for) before it runs.
    depends_on: list[uuid.UUID] = []
    on_dependency_failure: OnDependencyFailure = "cancel"
    #: Why a job does not start: a queued one's queue_paused, queue_limit or global_limit; a
    #: waiting one's dependencies (see waiting_on); else null.
    waiting_reason: str | None = None
    #: A waiting job's dependencies that have not finished yet, else null.
    waiting_on: list[uuid.UUID] | None = None
    #: A queued job's place in line and expected times (null when not queued or unknown).
    eta: JobEta | None = None
    #: Whom the job's events are told to, as submitted.
    notify: Notify | None = None


class JobBatchView(msgspec.Struct):
    """The jobs of a batch submission, in the order submitted."""

    jobs: list[JobView]


class JobPage(msgspec.Struct):
    """One page of a job listing, newest first."""

    items: list[JobView]
    next_cursor: str | None
