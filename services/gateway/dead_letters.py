"""/v1/dead-letters: failed jobs to look at, run again (replay) or take off the list (purge).

A key sees its own tenant's dead letters; an admin key sees one tenant's (`tenant`) or every
tenant's (no `tenant`), and acts on the same. After a replay or purge, the `.XQ` of each
engine queue touched is swept, so RabbitMQ's console agrees with this list.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import dead_letters
from infra.dead_letters import DeadLetterWhere, to_view
from infra.keys import Principal
from schemas.bulk import one_selector
from schemas.dead_letters import (
    DeadLetterFilter,
    DeadLetterPage,
    DeadLetterPurgeView,
    DeadLetterReplay,
    DeadLetterReplayView,
    DeadLetterSelect,
)
from schemas.errors import FieldError, nul_errors
from schemas.ids import decode_time_cursor, encode_time_cursor
from schemas.jobs import ErrorCategory
from schemas.keys import Scope
from services.gateway.auth import requires, tenant_scope
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.gateway.paging import TimeCursor, text_filters


def invalid(errors: list[FieldError]) -> ApiError:
    """422 naming the fields at fault."""
    return ApiError(422, "invalid_request", "; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def time_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Where a dead-letter listing continues; 422 naming `cursor` if it is not one of ours."""
    if cursor is None:
        return None
    try:
        return decode_time_cursor(cursor)
    except ValueError:
        raise invalid([FieldError("cursor", "not a cursor this API gave")]) from None


def selection(data: DeadLetterSelect, principal: Principal) -> tuple[str | None, DeadLetterWhere | None]:
    """The tenant (None: every tenant) and filter of a replay or purge body; 422 or 403 naming the field."""
    errors = one_selector(data.ids, data.filter)
    where = data.filter
    asked = data.tenant
    if where is not None:
        errors += nul_errors({"queue": where.queue, "operation": where.operation, "tenant": where.tenant}, "filter")
        if where.tenant is not None and asked is not None:
            errors.append(FieldError("filter.tenant", "name the tenant once: as tenant or as filter.tenant"))
        asked = asked or where.tenant
    errors += nul_errors({"tenant": data.tenant})
    if errors:
        raise invalid(errors)
    return tenant_scope(principal, asked), None if where is None else to_where(where)


def to_where(where: DeadLetterFilter) -> DeadLetterWhere:
    """A body's filter as the repository's."""
    return DeadLetterWhere(
        engine=where.queue,
        operation=where.operation,
        category=None if where.category is None else where.category.value,
        tag=where.tag,
        since=where.since,
    )


class DeadLetterController(Controller):
    """Dead letters of the caller's tenant (or, for admin keys, of any tenant)."""

    path = "/v1/dead-letters"
    tags = ["dead letters"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="List dead letters, newest failure first")
    async def list_dead_letters(
        self,
        resources: Resources,
        principal: Principal,
        queue: Annotated[str | None, Parameter(description="Of this engine queue")] = None,
        operation: str | None = None,
        category: Annotated[ErrorCategory | None, Parameter(description="Whose error has this category")] = None,
        tag: Annotated[str | None, Parameter(description="Carrying this tag")] = None,
        since: Annotated[datetime | None, Parameter(description="Failed at or after (RFC 3339)")] = None,
        tenant: Annotated[str | None, Parameter(description="Admin keys: this tenant's (default: all)")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: TimeCursor = None,
    ) -> DeadLetterPage:
        """A page of failed jobs; pass `next_cursor` back as `cursor` for the next one."""
        text_filters(queue=queue, operation=operation, tag=tag, tenant=tenant)
        after = time_cursor(cursor)
        where = DeadLetterWhere(
            engine=queue, operation=operation, category=category and category.value, tag=tag, since=since
        )
        rows = await dead_letters.list_dead_letters(
            resources.pool,
            tenant_scope(principal, tenant),
            where,
            after=after,
            limit=limit + 1,
        )
        items = [to_view(row) for row in rows[:limit]]
        last = items[-1] if items else None
        next_cursor = encode_time_cursor(last.failed_at, last.id) if last and len(rows) > limit else None
        return DeadLetterPage(items=items, next_cursor=next_cursor)

    @post("/replay", guards=[requires(Scope.JOBS_WRITE)], summary="Run dead letters again", status_code=200)
    async def replay(self, data: DeadLetterReplay, resources: Resources, principal: Principal) -> DeadLetterReplayView:
        """Queue them again (attempts continue, with a fresh retry budget), or schedule them
        `max_per_second` a second; then clear their messages from the dead-letter queues."""
        tenant, where = selection(data, principal)
        selected, more = await dead_letters.select(resources.pool, tenant, ids=data.ids, where=where)
        done = await dead_letters.replay(
            resources.pool, resources.dispatcher, tenant, selected, per_second=data.max_per_second
        )
        asked = len(set(data.ids)) if data.ids is not None else len(selected)
        return DeadLetterReplayView(
            replayed=len(done.rows),
            not_replayable=done.not_replayable,
            not_found=asked - len(done.rows) - done.not_replayable,
            more=more,
            paced_seconds=done.paced_seconds,
            dead_letter_queues=await dead_letters.sweep_queues(resources.pool, resources.settings, done.rows),
        )

    @post("/purge", guards=[requires(Scope.JOBS_WRITE)], summary="Take dead letters off the list", status_code=200)
    async def purge(self, data: DeadLetterSelect, resources: Resources, principal: Principal) -> DeadLetterPurgeView:
        """The jobs stay failed but are no longer listed; their messages leave the dead-letter queues."""
        tenant, where = selection(data, principal)
        selected, more = await dead_letters.select(resources.pool, tenant, ids=data.ids, where=where)
        purged = await dead_letters.purge(resources.pool, tenant, selected)
        asked = len(set(data.ids)) if data.ids is not None else len(selected)
        return DeadLetterPurgeView(
            purged=len(purged),
            not_found=asked - len(purged),
            more=more,
            dead_letter_queues=await dead_letters.sweep_queues(resources.pool, resources.settings, purged),
        )
