"""/ui/jobs: the jobs list (filters, id search, cursor paging, live rows) and its bulk actions."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.response import Redirect, Template

from infra import jobs, jobs_bulk
from infra.jobs import to_view
from schemas.ids import encode_cursor
from schemas.jobs import JobStatus
from schemas.keys import Scope
from services.gateway.deps import Resources
from services.gateway.paging import after_cursor
from services.gateway.ui.filters import JobQuery, ids, invalid, provide_job_query
from services.gateway.ui.render import back_to, job_uuid, page, query
from services.gateway.ui.session import Ui, checked_form
from services.operations import annotate_waiting


def cancel_notice(counts: jobs_bulk.CancelCounts) -> str:
    """What a cancel did, in words."""
    parts = [f"cancelled {counts.cancelled}", f"asked {counts.cancel_requested} running to stop"]
    if counts.not_cancellable:
        parts.append(f"{counts.not_cancellable} had already finished")
    if counts.not_found:
        parts.append(f"{counts.not_found} not found")
    return ", ".join(parts)


def retry_notice(counts: jobs_bulk.RetryCounts) -> str:
    """What a retry did, in words."""
    parts = [f"retried {counts.retried}"]
    if counts.not_retryable:
        parts.append(f"{counts.not_retryable} were neither failed nor cancelled (or a workflow's node)")
    if counts.not_found:
        parts.append(f"{counts.not_found} not found")
    return ", ".join(parts)


class JobPages(Controller):
    """The jobs list."""

    path = "/ui/jobs"
    dependencies = {"where": Provide(provide_job_query, sync_to_thread=False)}

    @get("/", name="ui-jobs")
    async def list_jobs(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, where: JobQuery, q: str | None = None
    ) -> Template | Redirect:
        """Newest first, filtered as GET /v1/jobs filters; `q` finds a job by its id."""
        q = (q or "").strip()
        found = job_uuid(q) if q else None
        if found is not None and await jobs.get_job(resources.pool, ui.principal.tenant, found) is not None:
            return Redirect(path=f"/ui/jobs/{found}", status_code=303)
        tenant = ui.principal.tenant
        rows = await jobs.list_jobs(
            resources.pool, tenant, where.to_filter(), after=after_cursor(where.cursor), limit=where.limit + 1
        )
        items = [to_view(row) for row in rows[: where.limit]]
        await annotate_waiting(resources.pool, resources.settings, items)
        next_cursor = encode_cursor(items[-1].id) if len(rows) > where.limit else None
        return page(
            request,
            "jobs.html",
            ui,
            jobs=items,
            where=where,
            filters=where.params(),
            next_cursor=next_cursor,
            searched=q if q else None,
            statuses=list(JobStatus),
            engines=[engine.name for engine in resources.engines.engines],
            row_query=query(where.params()),
        )

    @get("/{job_id:uuid}/row")
    async def row(
        self,
        request: Request[Any, Any, Any],
        job_id: uuid.UUID,
        resources: Resources,
        ui: Ui,
        where: JobQuery,
        arriving: bool = False,
    ) -> Response[Any]:
        """One row of the list, as it is now; for a job `arriving` in the list, empty unless the
        filters show it (a row already shown stays, so nothing moves under the pointer)."""
        row = await jobs.get_job(resources.pool, ui.principal.tenant, job_id)
        view = None if row is None else to_view(row)
        if view is None or (arriving and not where.matches(view)):
            return Response(b"", media_type="text/html")
        await annotate_waiting(resources.pool, resources.settings, [view])
        return page(request, "fragments/job_row.html", ui, job=view, row_query=query(where.params()))

    @post("/bulk", status_code=303)
    async def bulk(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Redirect:
        """Cancel or Retry the ticked jobs, as POST /v1/jobs/cancel and /v1/jobs/retry do."""
        form = await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        chosen, action = ids(form), str(form.get("action") or "")
        if not chosen:
            raise invalid("ids", "tick at least one job")
        if action == "cancel":
            notice = cancel_notice(await jobs_bulk.cancel_jobs(resources.pool, ui.principal.tenant, chosen))
        elif action == "retry":
            counts = await jobs_bulk.retry_jobs(resources.pool, resources.dispatcher, ui.principal.tenant, chosen)
            notice = retry_notice(counts)
        else:
            raise invalid("action", "must be cancel or retry")
        return back_to(request, str(form.get("back") or "/ui/jobs"), notice)
