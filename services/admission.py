"""What a submission must pass besides its own fields, checked against the world before it is
stored: webhook addresses, artifact inputs, and the queues' backlog limits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import asyncpg

from infra import controls
from infra.artifacts import artifacts_present
from infra.jobs import NewJob
from infra.settings import Settings
from infra.subscriptions import url_refusal
from schemas.artifacts import artifact_inputs
from schemas.errors import FieldError, join_path
from schemas.jobs import Notify
from schemas.operations import GLOBAL, Controls
from services.submit import SubmitError


async def check_notify_webhooks(notifies: Sequence[tuple[str, Notify | None]], settings: Settings) -> None:
    """SubmitError naming `<at>.webhook` for each `notify` (at its path) whose webhook URL the
    address guard refuses; each distinct URL is checked once, all at the same time."""
    exemptions = settings.webhook_private_exemptions()
    urls = list(dict.fromkeys(n.webhook for _, n in notifies if n is not None and n.webhook is not None))
    refusals = dict(zip(urls, await asyncio.gather(*(url_refusal(url, exemptions) for url in urls)), strict=True))
    errors = [
        FieldError(join_path(at, "webhook"), why)
        for at, notify in notifies
        if notify is not None and notify.webhook is not None and (why := refusals[notify.webhook]) is not None
    ]
    if errors:
        raise SubmitError(errors)


async def check_artifact_inputs(pool: asyncpg.Pool, tenant: str, params: Sequence[tuple[str, object]]) -> None:
    """SubmitError naming the field of each `{"$artifact": "<job id>/<name>"}` in these params
    (each at its path) that is not a finished artifact of the tenant's."""
    wanted = [(join_path(at, path), ref) for at, value in params for path, ref in artifact_inputs(value)]
    if not wanted:
        return
    found = await artifacts_present(pool, tenant, [ref for _, ref in wanted])
    errors = [
        FieldError(at, f"no artifact {ref.ref}: name a finished artifact of one of your jobs")
        for at, ref in wanted
        if (ref.job_id, ref.name) not in found
    ]
    if errors:
        raise SubmitError(errors)


#: What a submission refused by a full backlog is told to wait before trying again.
BACKLOG_RETRY_AFTER_SECONDS = 5


async def check_backlog(pool: asyncpg.Pool, state: Controls, new: Sequence[NewJob], *, at: str = "engine") -> None:
    """429 (SubmitError) if storing these jobs would take a queue, or all queues together, past
    its max_backlog (queued and scheduled jobs); a batch is refused whole."""
    per_engine = Counter(job.engine for job in new)
    full: list[FieldError] = []
    for engine, count in sorted(per_engine.items()):
        limit = state.get(engine).max_backlog
        if limit is not None and (waiting := await controls.backlog(pool, engine)) + count > limit:
            full.append(FieldError(at, f"queue {engine} is full: {waiting} jobs wait, max_backlog is {limit}"))
    limit = state.get(GLOBAL).max_backlog
    if not full and limit is not None and (waiting := await controls.backlog(pool, None)) + len(new) > limit:
        full.append(FieldError(at, f"the queues are full: {waiting} jobs wait, the global max_backlog is {limit}"))
    if full:
        raise SubmitError(full, status=429, code="queue_full", retry_after=BACKLOG_RETRY_AFTER_SECONDS)
