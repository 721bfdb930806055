"""/v1/workflows: submit a DAG of jobs, read, list, cancel and delete them, grow a running one,
retry a finished one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import workflows
from infra.keys import Principal
from schemas.ids import encode_cursor
from schemas.keys import Scope
from schemas.workflows import (
    WorkflowNodesAdd,
    WorkflowPage,
    WorkflowRetrySubmit,
    WorkflowStatus,
    WorkflowSubmit,
    WorkflowView,
)
from services.admission import check_artifact_inputs, check_notify_webhooks
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError, documented, same_key
from services.gateway.paging import Cursor, after_cursor, text_filters, time_filters
from services.templates import apply_node_templates
from services.workflow_growth import (
    WorkflowConflict,
    build_added_nodes,
    grow_workflow,
    refuse_unless_running,
    retry_workflow,
)
from services.workflows import build_workflow, submit_workflow

WorkflowId = Annotated[uuid.UUID, Parameter(description="The workflow's id")]


def not_found(workflow_id: uuid.UUID) -> ApiError:
    """The answer for a workflow the tenant does not have."""
    return ApiError(404, "workflow_not_found", f"no workflow {workflow_id}")


class WorkflowController(Controller):
    """Workflows of the caller's tenant."""

    path = "/v1/workflows"
    tags = ["workflows"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post(
        "/",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Submit a workflow",
        status_code=202,
        responses={200: documented(WorkflowView, "The workflow submitted before with this idempotency key")},
    )
    async def submit(
        self,
        data: WorkflowSubmit,
        request: Request[Any, Any, Any],
        resources: Resources,
        principal: Principal,
        idempotency_key: Annotated[
            str | None, Parameter(header="Idempotency-Key", min_length=1, max_length=255)
        ] = None,
    ) -> Response[WorkflowView]:
        """Validate the whole DAG, store it in one transaction and queue its roots: 202 with the
        workflow; 200 with the earlier one for a repeated idempotency key."""
        data.idempotency_key = same_key(data.idempotency_key, idempotency_key)
        if any(node.template is not None for node in data.nodes):
            sent = (await request.json())["nodes"]
            data.nodes = await apply_node_templates(resources.pool, principal.tenant, data.nodes, sent)
        wf = build_workflow(data, resources.registry, resources.settings)
        await check_notify_webhooks([("notify", data.notify)], resources.settings)
        params = [(f"nodes[{index}].params", node.params) for index, node in enumerate(data.nodes)]
        await check_artifact_inputs(resources.pool, principal.tenant, params)
        row, created = await submit_workflow(resources.dispatcher, principal.tenant, wf)
        view = await self._view(resources, principal, row["id"])
        return Response(view, status_code=202 if created else 200, headers={"Location": f"{self.path}/{view.id}"})

    @get("/{workflow_id:uuid}", guards=[requires(Scope.JOBS_READ)], summary="Get a workflow")
    async def get_workflow(self, workflow_id: WorkflowId, resources: Resources, principal: Principal) -> WorkflowView:
        """A workflow with the status, job and error of every node."""
        return await self._view(resources, principal, workflow_id)

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="List workflows, newest first")
    async def list_workflows(
        self,
        resources: Resources,
        principal: Principal,
        status: Annotated[list[WorkflowStatus] | None, Parameter(description="Any of these statuses")] = None,
        name: str | None = None,
        tag: Annotated[list[str] | None, Parameter(description="Workflows carrying every one of these tags")] = None,
        created_after: Annotated[datetime | None, Parameter(description="Created at or after (RFC 3339)")] = None,
        created_before: Annotated[datetime | None, Parameter(description="Created before (RFC 3339)")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> WorkflowPage:
        """A page of workflows (without their nodes); pass `next_cursor` back as `cursor`."""
        text_filters(name=name, tag=tag)
        time_filters(created_after=created_after, created_before=created_before)
        items = await workflows.list_workflows(
            resources.pool,
            principal.tenant,
            statuses=[s.value for s in status] if status else None,
            name=name,
            tags=tag or None,
            created=(created_after, created_before),
            after=after_cursor(cursor),
            limit=limit + 1,
        )
        next_cursor = encode_cursor(items[limit - 1].id) if len(items) > limit else None
        return WorkflowPage(items=items[:limit], next_cursor=next_cursor)

    @post(
        "/{workflow_id:uuid}/cancel",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Cancel a workflow",
        status_code=200,
        responses={202: documented(WorkflowView, "Running nodes are told to stop")},
    )
    async def cancel(
        self, workflow_id: WorkflowId, resources: Resources, principal: Principal
    ) -> Response[WorkflowView]:
        """No node starts after this returns; running ones are stopped. 200 when it has already
        ended, 202 while running nodes stop; 409 if it had finished before."""
        cancelled = await workflows.cancel_workflow(resources.pool, principal.tenant, workflow_id)
        if cancelled is None:
            raise not_found(workflow_id)
        view = await self._view(resources, principal, workflow_id)
        if not cancelled:
            raise ApiError(409, "workflow_finished", f"workflow {workflow_id} already {view.status}")
        return Response(view, status_code=200 if view.finished_at is not None else 202)

    @delete(
        "/{workflow_id:uuid}",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Delete a finished workflow",
        status_code=204,
    )
    async def remove(self, workflow_id: WorkflowId, resources: Resources, principal: Principal) -> None:
        """204: the workflow, its nodes, their jobs, events and artifacts are gone. 409 while it
        runs, or while a job outside it waits on one of its jobs."""
        if await workflows.delete_workflow(resources.pool, principal.tenant, workflow_id):
            return
        view = await self._view(resources, principal, workflow_id)
        if view.finished_at is None:
            message = (
                f"workflow {workflow_id} is {view.status}; only a finished workflow can be deleted (cancel it first)"
            )
            raise ApiError(409, "workflow_not_finished", message)
        message = f"jobs waiting on jobs of workflow {workflow_id} may still read their results"
        raise ApiError(409, "workflow_has_waiting_dependents", message)

    @post(
        "/{workflow_id:uuid}/nodes",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Add nodes to a running workflow",
        status_code=202,
    )
    async def add_nodes(
        self,
        workflow_id: WorkflowId,
        data: WorkflowNodesAdd,
        request: Request[Any, Any, Any],
        resources: Resources,
        principal: Principal,
    ) -> WorkflowView:
        """Nodes whose depends_on name the workflow's nodes and each other, checked whole as at
        submission and stored in one transaction: 202 with the workflow, which ends only after
        them; 422 naming the fields at fault; 409 once it has finished or while it is cancelled."""
        view = await self._view(resources, principal, workflow_id)
        try:  # checked first against the workflow as read, then again under its lock
            refuse_unless_running(workflow_id, view.status, view.cancel_requested_at)
            if any(node.template is not None for node in data.nodes):
                sent = (await request.json())["nodes"]
                data.nodes = await apply_node_templates(resources.pool, principal.tenant, data.nodes, sent)
            existing = {node.key: node.depends_on for node in view.nodes}
            build_added_nodes(data, existing, resources.registry, resources.settings)
            params = [(f"nodes[{index}].params", node.params) for index, node in enumerate(data.nodes)]
            await check_artifact_inputs(resources.pool, principal.tenant, params)
            grown = await grow_workflow(
                resources.dispatcher, principal.tenant, workflow_id, data, resources.registry, resources.settings
            )
        except WorkflowConflict as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        if not grown:
            raise not_found(workflow_id)
        return await self._view(resources, principal, workflow_id)

    @post(
        "/{workflow_id:uuid}/retry",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Run a failed or cancelled workflow again",
        status_code=202,
    )
    async def retry(
        self,
        workflow_id: WorkflowId,
        resources: Resources,
        principal: Principal,
        data: WorkflowRetrySubmit | None = None,
    ) -> WorkflowView:
        """Its failed and cancelled nodes run again (or those of `nodes`, with what they had stopped
        below them; the body may be left out), each with a fresh retry budget; succeeded nodes keep
        their results. 202 with the workflow, running again; 422 naming `nodes[i]`; 409 while it
        runs or once it succeeded."""
        requested = None if data is None else data.nodes
        try:
            retried = await retry_workflow(resources.pool, principal.tenant, workflow_id, requested)
        except WorkflowConflict as exc:
            raise ApiError(409, exc.code, str(exc)) from None
        if not retried:
            raise not_found(workflow_id)
        return await self._view(resources, principal, workflow_id)

    async def _view(self, resources: Resources, principal: Principal, workflow_id: uuid.UUID) -> WorkflowView:
        view = await workflows.get_workflow(resources.pool, principal.tenant, workflow_id)
        if view is None:
            raise not_found(workflow_id)
        return view
