"""/ui/dead-letters: failed jobs by queue, operation and category; Replay (selected or all
matching, optionally paced) and Purge, each behind a confirmation that says how many."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template

from infra import dead_letters
from infra.dead_letters import DeadLetterWhere, to_view
from schemas.dead_letters import DeadLetterReplay
from schemas.ids import encode_time_cursor
from schemas.jobs import ErrorCategory
from schemas.keys import Scope
from services.gateway.auth import tenant_scope
from services.gateway.dead_letters import selection, time_cursor
from services.gateway.deps import Resources
from services.gateway.ui.filters import Params, as_params, choice, invalid, text, when
from services.gateway.ui.filters import limit as page_size
from services.gateway.ui.render import back_to, page, query
from services.gateway.ui.session import Ui, checked_form

FILTERS = ("queue", "operation", "category", "tag", "since")


@dataclass
class DeadLetterQuery:
    """The list's filters, as GET /v1/dead-letters takes them."""

    queue: str | None
    operation: str | None
    category: ErrorCategory | None
    tag: str | None
    since: datetime | None
    #: Admin keys: one tenant's (None: every tenant's); other keys: their own.
    tenant: str | None = None

    @classmethod
    def parse(cls, params: Params) -> DeadLetterQuery:
        """From a query string or form; 422 in the API's words for a bad value."""
        categories = choice(params, "category", ErrorCategory)
        return cls(
            queue=text(params, "queue"),
            operation=text(params, "operation"),
            category=categories[0] if categories else None,
            tag=text(params, "tag"),
            since=when(params, "since"),
            tenant=text(params, "tenant"),
        )

    def where(self) -> DeadLetterWhere:
        """The repository's filter."""
        category = None if self.category is None else self.category.value
        return DeadLetterWhere(
            engine=self.queue, operation=self.operation, category=category, tag=self.tag, since=self.since
        )

    def params(self) -> dict[str, Any]:
        """The filters as query parameters."""
        return {
            "queue": self.queue,
            "operation": self.operation,
            "category": self.category and self.category.value,
            "tag": self.tag,
            "since": self.since and self.since.isoformat(),
            "tenant": self.tenant,
        }


def provide_dead_letter_query(
    queue: str | None = None,
    operation: str | None = None,
    category: str | None = None,
    tag: str | None = None,
    since: str | None = None,
    tenant: str | None = None,
) -> DeadLetterQuery:
    """The list's filters (declared one by one, so an unknown parameter is refused)."""
    given = as_params(queue=queue, operation=operation, category=category, tag=tag, since=since, tenant=tenant)
    return DeadLetterQuery.parse(given)


def replay_body(form: Params, where: DeadLetterQuery) -> DeadLetterReplay:
    """The body POST /v1/dead-letters/replay (or /purge) would get for this form."""
    body: dict[str, Any] = {"tenant": where.tenant}
    if form.get("scope") == "all":
        body["filter"] = {k: v for k, v in where.params().items() if v is not None and k != "tenant"}
    else:
        body["ids"] = [str(v) for v in form.getall("ids", [])]
        if not body["ids"]:
            raise invalid("ids", "tick at least one dead letter")
    if rate := str(form.get("max_per_second") or "").strip():
        body["max_per_second"] = rate
    try:
        return msgspec.convert(body, DeadLetterReplay, strict=False)
    except msgspec.ValidationError as exc:
        raise invalid("max_per_second" if "max_per_second" in str(exc) else "ids", str(exc)) from None


def groups(rows: list[Any]) -> dict[str, Counter[str]]:
    """How many of the matching dead letters each queue, operation and error category holds."""
    found: dict[str, Counter[str]] = {"queue": Counter(), "operation": Counter(), "category": Counter()}
    for row in rows:
        found["queue"][row["engine"]] += 1
        found["operation"][row["operation"]] += 1
        found["category"][(row["error"] or {}).get("category", "none")] += 1
    return found


async def list_context(
    resources: Resources, ui: Ui, where: DeadLetterQuery, cursor: str | None, size: int
) -> dict[str, Any]:
    """A page of dead letters as GET /v1/dead-letters gives it, and how many an action on all
    matching would touch (as a replay by filter selects them)."""
    tenant = tenant_scope(ui.principal, where.tenant)
    rows = await dead_letters.list_dead_letters(
        resources.pool, tenant, where.where(), after=time_cursor(cursor), limit=size + 1
    )
    items = [to_view(row) for row in rows[:size]]
    last = items[-1] if items else None
    next_cursor = encode_time_cursor(last.failed_at, last.id) if last and len(rows) > size else None
    matching, more = await dead_letters.select(resources.pool, tenant, ids=None, where=where.where())
    return {
        "items": items,
        "where": where,
        "filters": where.params(),
        "cursor": cursor,
        "next_cursor": next_cursor,
        "matching": len(matching),
        "groups": groups(matching),
        "more": more,
        "categories": list(ErrorCategory),
        "back": f"/ui/dead-letters?{query(where.params())}",
    }


class DeadLetterPages(Controller):
    """The dead-letter list and its actions."""

    path = "/ui/dead-letters"
    dependencies = {"where": Provide(provide_dead_letter_query, sync_to_thread=False)}

    @get("/", name="ui-dead-letters")
    async def list_dead_letters(
        self,
        request: Request[Any, Any, Any],
        resources: Resources,
        ui: Ui,
        where: DeadLetterQuery,
        cursor: str | None = None,
        limit: str | None = None,
    ) -> Template:
        """Newest failure first; how many an action on all matching would touch."""
        context = await list_context(resources, ui, where, cursor or None, page_size(as_params(limit=limit)))
        return page(request, "dead_letters.html", ui, **context)

    @get("/fragments/table")
    async def table(
        self,
        request: Request[Any, Any, Any],
        resources: Resources,
        ui: Ui,
        where: DeadLetterQuery,
        cursor: str | None = None,
        limit: str | None = None,
    ) -> Template:
        """The list and its actions, re-read as jobs fail and are replayed."""
        context = await list_context(resources, ui, where, cursor or None, page_size(as_params(limit=limit)))
        return page(request, "fragments/dead_letters_table.html", ui, **context)

    @post("/replay", status_code=303)
    async def replay(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Redirect:
        """Run them again, as POST /v1/dead-letters/replay does."""
        form = await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        data = replay_body(form, DeadLetterQuery.parse(form))
        tenant, where = selection(data, ui.principal)
        selected, more = await dead_letters.select(resources.pool, tenant, ids=data.ids, where=where)
        done = await dead_letters.replay(
            resources.pool, resources.dispatcher, tenant, selected, per_second=data.max_per_second
        )
        await dead_letters.sweep_queues(resources.pool, resources.settings, done.rows)
        asked = len(set(data.ids)) if data.ids is not None else len(selected)
        gone = asked - len(done.rows) - done.not_replayable
        notice = f"replayed {len(done.rows)}"
        if done.paced_seconds:
            notice += f" (the last queued in {done.paced_seconds:.0f} s)"
        if done.not_replayable:
            notice += f", {done.not_replayable} are workflow nodes (retry their workflow)"
        if gone:
            notice += f", {gone} were no longer failed"
        if more:
            notice += "; more matched than one replay takes (10,000): replay again"
        return back_to(request, str(form.get("back") or "/ui/dead-letters"), notice)

    @post("/purge", status_code=303)
    async def purge(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Redirect:
        """Take them off the list, as POST /v1/dead-letters/purge does."""
        form = await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        data = replay_body(form, DeadLetterQuery.parse(form))
        tenant, where = selection(data, ui.principal)
        selected, more = await dead_letters.select(resources.pool, tenant, ids=data.ids, where=where)
        purged = await dead_letters.purge(resources.pool, tenant, selected)
        await dead_letters.sweep_queues(resources.pool, resources.settings, purged)
        asked = len(set(data.ids)) if data.ids is not None else len(selected)
        notice = f"purged {len(purged)}" + (
            f", {asked - len(purged)} were no longer listed" if asked > len(purged) else ""
        )
        return back_to(
            request, str(form.get("back") or "/ui/dead-letters"), notice + ("; more matched" if more else "")
        )
