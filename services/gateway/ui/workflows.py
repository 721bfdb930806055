"""Dashboard pages for workflows: the list (filters as GET /v1/workflows takes them) and one
workflow's graph, live, with Cancel and Retry as the key's scopes allow."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import MultiDict
from litestar.di import Provide
from litestar.response import Redirect, Template

from infra import workflows
from schemas.ids import encode_cursor
from schemas.keys import Scope
from schemas.workflows import WorkflowStatus, WorkflowSummary, WorkflowView
from services.gateway.deps import Resources
from services.gateway.paging import after_cursor
from services.gateway.ui.dag import NodeBox, layout, render_svg
from services.gateway.ui.filters import invalid, limit, text, texts, when
from services.gateway.ui.render import back_to, page, query
from services.gateway.ui.session import Ui, checked_form
from services.gateway.workflows import not_found
from services.submit import SubmitError
from services.workflow_growth import WorkflowConflict, retry_workflow

PAGE_SIZE = 50


def node_href(workflow_id: uuid.UUID) -> Callable[[NodeBox], str | None]:
    """Where a node of the workflow's graph opens: its job, or a for_each node's item jobs."""

    def href(box: NodeBox) -> str | None:
        if box.job_id is not None:
            return f"/ui/jobs/{box.job_id}"
        if box.counts is not None:
            return "/ui/jobs?" + query({"workflow_id": workflow_id, "node_key": box.key})
        return None

    return href


def graph_svg(view: WorkflowView) -> str:
    """The workflow's DAG as SVG markup (every text escaped)."""
    return render_svg(layout(view.nodes), node_href(view.id), title=f"Graph of workflow {view.name}")


@dataclass
class WorkflowQuery:
    """The workflows list's filters and page, as GET /v1/workflows takes them."""

    statuses: list[WorkflowStatus] = field(default_factory=list)
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    created_after: datetime | None = None
    created_before: datetime | None = None
    cursor: str | None = None
    limit: int = PAGE_SIZE

    @classmethod
    def parse(cls, params: MultiDict[Any]) -> WorkflowQuery:
        """From a query string; 422 in the API's words for a bad value."""
        try:
            statuses = [WorkflowStatus(value) for value in texts(params, "status")]
        except ValueError:
            raise invalid("status", f"must be one of {', '.join(WorkflowStatus)}") from None
        query = cls(
            statuses=statuses,
            name=text(params, "name"),
            tags=texts(params, "tag"),
            created_after=when(params, "created_after"),
            created_before=when(params, "created_before"),
            cursor=text(params, "cursor"),
            limit=limit(params, PAGE_SIZE),
        )
        after_cursor(query.cursor)
        return query

    def params(self) -> dict[str, Any]:
        """The filters as query parameters (no cursor)."""
        return {
            "status": [s.value for s in self.statuses],
            "name": self.name,
            "tag": self.tags,
            "created_after": self.created_after and self.created_after.isoformat(),
            "created_before": self.created_before and self.created_before.isoformat(),
            "limit": None if self.limit == PAGE_SIZE else self.limit,
        }

    def matches(self, workflow: WorkflowSummary) -> bool:
        """Whether a workflow belongs in the list these filters make."""
        return (
            (not self.statuses or workflow.status in self.statuses)
            and self.name in (None, workflow.name)
            and all(tag in workflow.tags for tag in self.tags)
            and (self.created_after is None or workflow.created_at >= self.created_after)
            and (self.created_before is None or workflow.created_at < self.created_before)
        )


def provide_workflow_query(
    request: Request[Any, Any, Any],
    status: list[str] | None = None,
    name: str | None = None,
    tag: list[str] | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> WorkflowQuery:
    """The list's filters from the query string (the parameters declare them to the router)."""
    return WorkflowQuery.parse(request.query_params)


class WorkflowPages(Controller):
    """/ui/workflows and /ui/workflows/{id}."""

    path = "/ui/workflows"

    @get("/", name="ui-workflows", dependencies={"where": Provide(provide_workflow_query, sync_to_thread=False)})
    async def list_page(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, where: WorkflowQuery
    ) -> Template:
        """Workflows, newest first, filtered as the API filters them, a page at a time."""
        ui.require(Scope.JOBS_READ)
        items = await workflows.list_workflows(
            resources.pool,
            ui.principal.tenant,
            statuses=[s.value for s in where.statuses] or None,
            name=where.name,
            tags=where.tags or None,
            created=(where.created_after, where.created_before),
            after=after_cursor(where.cursor),
            limit=where.limit + 1,
        )
        next_cursor = encode_cursor(items[where.limit - 1].id) if len(items) > where.limit else None
        return page(
            request,
            "workflows_list.html",
            ui,
            workflows=items[: where.limit],
            where=where,
            filters=where.params(),
            next_cursor=next_cursor,
            statuses=list(WorkflowStatus),
        )

    @get("/{workflow_id:uuid}/row", dependencies={"where": Provide(provide_workflow_query, sync_to_thread=False)})
    async def row(
        self,
        request: Request[Any, Any, Any],
        resources: Resources,
        ui: Ui,
        workflow_id: uuid.UUID,
        where: WorkflowQuery,
    ) -> Template | Response[bytes]:
        """One row of the list (live updates); empty when the filters would not show it."""
        ui.require(Scope.JOBS_READ)
        view = await workflows.get_workflow(resources.pool, ui.principal.tenant, workflow_id)
        if view is None or not where.matches(view):
            return Response(b"", media_type="text/html")
        return page(request, "fragments/workflow_row.html", ui, workflow=view)

    @get("/{workflow_id:uuid}")
    async def detail_page(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, workflow_id: uuid.UUID
    ) -> Template:
        """One workflow: its graph, its nodes and the actions its state allows."""
        return page(request, "workflows_detail.html", ui, **await self._context(resources, ui, workflow_id))

    @get("/{workflow_id:uuid}/live")
    async def live_fragment(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, workflow_id: uuid.UUID
    ) -> Template:
        """The part of the workflow's page that changes: status, actions, graph and nodes."""
        return page(request, "fragments/workflow_live.html", ui, **await self._context(resources, ui, workflow_id))

    @post("/{workflow_id:uuid}/cancel", status_code=303)
    async def cancel(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, workflow_id: uuid.UUID
    ) -> Redirect:
        """Cancel the workflow (as POST /v1/workflows/{id}/cancel), back to its page."""
        await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        cancelled = await workflows.cancel_workflow(resources.pool, ui.principal.tenant, workflow_id)
        if cancelled is None:
            raise not_found(workflow_id)
        notice = "cancelled: no node starts any more" if cancelled else "the workflow had already finished"
        return back_to(request, f"/ui/workflows/{workflow_id}", notice)

    @post("/{workflow_id:uuid}/retry", status_code=303)
    async def retry(
        self, request: Request[Any, Any, Any], resources: Resources, ui: Ui, workflow_id: uuid.UUID
    ) -> Redirect:
        """Run the failed or cancelled workflow again from its failed and cancelled nodes."""
        await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        try:
            retried = await retry_workflow(resources.pool, ui.principal.tenant, workflow_id, None)
        except WorkflowConflict as exc:
            return back_to(request, f"/ui/workflows/{workflow_id}", str(exc))
        except SubmitError as exc:
            return back_to(request, f"/ui/workflows/{workflow_id}", "; ".join(e.message for e in exc.errors))
        if not retried:
            raise not_found(workflow_id)
        return back_to(request, f"/ui/workflows/{workflow_id}", "running again from its failed and cancelled nodes")

    async def _context(self, resources: Resources, ui: Ui, workflow_id: uuid.UUID) -> dict[str, Any]:
        ui.require(Scope.JOBS_READ)
        view = await workflows.get_workflow(resources.pool, ui.principal.tenant, workflow_id)
        if view is None:
            raise not_found(workflow_id)
        running = view.status == WorkflowStatus.RUNNING
        return {
            "workflow": view,
            "graph": graph_svg(view),
            "can_cancel": running and ui.can(Scope.JOBS_WRITE),
            "can_retry": view.status in (WorkflowStatus.FAILED, WorkflowStatus.CANCELLED) and ui.can(Scope.JOBS_WRITE),
        }
