"""/v1/jobs: submit (one or a batch), read, list, follow, cancel and retry jobs (one, or many at once)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import dependencies, jobs
from infra.jobs import JobFilter, to_dispatch, to_view
from infra.keys import Principal
from schemas.events import EventPage
from schemas.ids import encode_cursor
from schemas.jobs import (
    TERMINAL,
    JobBatchSubmit,
    JobBatchView,
    JobPage,
    JobStatus,
    JobSubmit,
    JobView,
)
from schemas.keys import Scope
from services.admission import check_artifact_inputs, check_backlog, check_notify_webhooks
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError, documented, same_key
from services.gateway.paging import Cursor, after_cursor, text_filters, time_filters
from services.operations import annotate_waiting
from services.submit import (
    batch_hash,
    build_job,
    build_jobs,
    submit_batch,
    submit_jobs,
)
from services.templates import apply_templates

JobId = Annotated[uuid.UUID, Parameter(description="The job's id")]


def not_found(job_id: uuid.UUID) -> ApiError:
    """The answer for a job the tenant does not have."""
    return ApiError(404, "job_not_found", f"no job {job_id}")


class JobController(Controller):
    """Jobs of the caller's tenant."""

    path = "/v1/jobs"
    tags = ["jobs"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post(
        "/",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Submit a job",
        status_code=202,
        responses={200: documented(JobView, "The job submitted before with this idempotency key")},
    )
    async def submit(
        self,
        data: JobSubmit,
        request: Request[Any, Any, Any],
        resources: Resources,
        principal: Principal,
        idempotency_key: Annotated[
            str | None, Parameter(header="Idempotency-Key", min_length=1, max_length=255)
        ] = None,
    ) -> Response[JobView]:
        """Queue a job: 202 with the job, or 200 with the earlier job for a repeated idempotency key."""
        if data.template is not None:
            [data] = await apply_templates(resources.pool, principal.tenant, [("", data, await request.json())])
        data.idempotency_key = same_key(data.idempotency_key, idempotency_key)
        new = build_job(data, resources.registry, resources.settings)
        await check_notify_webhooks([("notify", data.notify)], resources.settings)
        await check_artifact_inputs(resources.pool, principal.tenant, [("params", new.params)])
        await check_backlog(resources.pool, await resources.controls.get(), [new])
        [(row, created)] = await submit_jobs(resources.dispatcher, principal.tenant, [new])
        view = to_view(row)
        return Response(view, status_code=202 if created else 200, headers={"Location": f"{self.path}/{view.id}"})

    @post(
        "/batch",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Submit up to 1,000 jobs",
        status_code=202,
        responses={200: documented(JobBatchView, "The jobs submitted before with this Idempotency-Key")},
    )
    async def submit_batch(
        self,
        data: JobBatchSubmit,
        request: Request[Any, Any, Any],
        resources: Resources,
        principal: Principal,
        idempotency_key: Annotated[
            str | None, Parameter(header="Idempotency-Key", min_length=1, max_length=255)
        ] = None,
    ) -> Response[JobBatchView]:
        """All or nothing: every job is checked first, then all are stored in one transaction.

        202 with the jobs; under an Idempotency-Key used before, 200 with that batch's jobs if the
        body is the same, 409 if it is not."""
        submits = data.jobs
        if any(job.template is not None for job in submits):
            sent = (await request.json())["jobs"]
            items = [(f"jobs[{index}]", job, sent[index]) for index, job in enumerate(submits)]
            submits = await apply_templates(resources.pool, principal.tenant, items)
        new = build_jobs(submits, resources.registry, resources.settings, at="jobs")
        notifies = [(f"jobs[{index}].notify", job.notify) for index, job in enumerate(submits)]
        await check_notify_webhooks(notifies, resources.settings)
        params = [(f"jobs[{index}].params", job.params) for index, job in enumerate(new)]
        await check_artifact_inputs(resources.pool, principal.tenant, params)
        await check_backlog(resources.pool, await resources.controls.get(), new, at="jobs")
        if idempotency_key is None:
            stored, created = await submit_jobs(resources.dispatcher, principal.tenant, new, at="jobs"), True
        else:
            stored, created = await submit_batch(
                resources.dispatcher, principal.tenant, new, key=idempotency_key, body_hash=batch_hash(data)
            )
        return Response(JobBatchView(jobs=[to_view(row) for row, _ in stored]), status_code=202 if created else 200)

    @get("/{job_id:uuid}", guards=[requires(Scope.JOBS_READ)], summary="Get a job")
    async def get_job(self, job_id: JobId, resources: Resources, principal: Principal) -> JobView:
        """A job with its status, progress, result or error."""
        row = await jobs.get_job(resources.pool, principal.tenant, job_id)
        if row is None:
            raise not_found(job_id)
        view = to_view(row)
        await annotate_waiting(resources.pool, resources.settings, [view])
        return view

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="List jobs, newest first")
    async def list_jobs(
        self,
        resources: Resources,
        principal: Principal,
        status: Annotated[list[JobStatus] | None, Parameter(description="Any of these statuses")] = None,
        engine: str | None = None,
        operation: str | None = None,
        tag: Annotated[list[str] | None, Parameter(description="Jobs carrying every one of these tags")] = None,
        created_after: Annotated[datetime | None, Parameter(description="Created at or after (RFC 3339)")] = None,
        created_before: Annotated[datetime | None, Parameter(description="Created before (RFC 3339)")] = None,
        schedule_id: Annotated[uuid.UUID | None, Parameter(description="Jobs this schedule created")] = None,
        workflow_id: Annotated[uuid.UUID | None, Parameter(description="Jobs of this workflow")] = None,
        node_key: Annotated[str | None, Parameter(description="Jobs of this workflow node")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> JobPage:
        """A page of jobs; pass `next_cursor` back as `cursor` for the next one."""
        text_filters(engine=engine, operation=operation, tag=tag, node_key=node_key)
        time_filters(created_after=created_after, created_before=created_before)
        after = after_cursor(cursor)
        where = JobFilter(
            statuses=[s.value for s in status] if status else None,
            engine=engine,
            operation=operation,
            tags=tag or None,
            created_after=created_after,
            created_before=created_before,
            schedule_id=schedule_id,
            workflow_id=workflow_id,
            node_key=node_key,
        )
        rows = await jobs.list_jobs(resources.pool, principal.tenant, where, after=after, limit=limit + 1)
        items = [to_view(row) for row in rows[:limit]]
        await annotate_waiting(resources.pool, resources.settings, items)
        next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
        return JobPage(items=items, next_cursor=next_cursor)

    @get("/{job_id:uuid}/dependents", guards=[requires(Scope.JOBS_READ)], summary="The jobs that depend on a job")
    async def list_dependents(
        self,
        job_id: JobId,
        resources: Resources,
        principal: Principal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> JobPage:
        """The jobs submitted with this one in `depends_on`, oldest first, whatever their status."""
        after = after_cursor(cursor)
        if await jobs.get_job(resources.pool, principal.tenant, job_id) is None:
            raise not_found(job_id)
        rows = await dependencies.list_dependents(
            resources.pool, principal.tenant, job_id, after=after, limit=limit + 1
        )
        items = [to_view(row) for row in rows[:limit]]
        await annotate_waiting(resources.pool, resources.settings, items)
        return JobPage(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)

    @get("/{job_id:uuid}/events", guards=[requires(Scope.JOBS_READ)], summary="A job's history")
    async def list_events(
        self,
        job_id: JobId,
        resources: Resources,
        principal: Principal,
        after: Annotated[
            int, Parameter(ge=0, le=2**53, description="Only events after this event id", schema_extra={"minimum": 0})
        ] = 0,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 200,
    ) -> EventPage:
        """Every event of the job (its state changes and progress), oldest first."""
        if await jobs.get_job(resources.pool, principal.tenant, job_id) is None:
            raise not_found(job_id)
        items = await jobs.list_events(resources.pool, principal.tenant, job_id, after=after, limit=limit + 1)
        more = len(items) > limit
        return EventPage(items=items[:limit], next_after=items[limit - 1].id if more else None)

    @post(
        "/{job_id:uuid}/cancel",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Cancel a job",
        status_code=200,
        responses={202: documented(JobView, "The job runs: its worker is told to stop it")},
    )
    async def cancel(self, job_id: JobId, resources: Resources, principal: Principal) -> Response[JobView]:
        """200 cancelled (it had not started); 202 while its worker stops it; 409 if it finished."""
        async with resources.pool.acquire() as conn:
            cancelled = await jobs.cancel_job(conn, principal.tenant, job_id)
        if cancelled is None:
            raise not_found(job_id)
        what, row = cancelled
        if what == "unchanged":
            raise ApiError(409, "job_finished", f"job {job_id} already {row['status']}; it cannot be cancelled")
        return Response(to_view(row), status_code=202 if what == "requested" else 200)

    @post(
        "/{job_id:uuid}/retry",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Run a failed or cancelled job again",
        status_code=202,
    )
    async def retry(self, job_id: JobId, resources: Resources, principal: Principal) -> Response[JobView]:
        """202 queued again (attempts continue, with a fresh retry budget); 409 unless failed or cancelled."""
        row = await jobs.retry_job(resources.pool, principal.tenant, job_id)
        if row is None:
            current = await jobs.get_job(resources.pool, principal.tenant, job_id)
            if current is None:
                raise not_found(job_id)
            if current["workflow_id"] is not None:
                message = f"job {job_id} is a node of workflow {current['workflow_id']}; its jobs are not retried alone"
                raise ApiError(409, "job_in_workflow", message)
            if current["depends_on"] and current["status"] in (JobStatus.FAILED, JobStatus.CANCELLED):
                message = f"job {job_id} reads the result of a dependency that has not succeeded; retry that first"
                raise ApiError(409, "dependency_not_succeeded", message)
            raise ApiError(
                409,
                "job_not_retryable",
                f"job {job_id} is {current['status']}; only failed or cancelled jobs can be retried",
            )
        resources.dispatcher.send([to_dispatch(row)])
        return Response(to_view(row), status_code=202, headers={"Location": f"{self.path}/{job_id}"})

    @delete("/{job_id:uuid}", guards=[requires(Scope.JOBS_WRITE)], summary="Delete a finished job", status_code=204)
    async def remove(self, job_id: JobId, resources: Resources, principal: Principal) -> None:
        """204: the job, its events and its artifacts are gone. 409 while it is not finished, when it is
        a workflow's node (delete the workflow), or while a job waiting on it may still read its result."""
        if await jobs.delete_job(resources.pool, principal.tenant, job_id):
            return
        row = await jobs.get_job(resources.pool, principal.tenant, job_id)
        if row is None:
            raise not_found(job_id)
        if row["workflow_id"] is not None:
            message = f"job {job_id} is a node of workflow {row['workflow_id']}; delete the workflow"
            raise ApiError(409, "job_in_workflow", message)
        if row["status"] not in TERMINAL:
            message = f"job {job_id} is {row['status']}; only a finished job can be deleted (cancel it first)"
            raise ApiError(409, "job_not_finished", message)
        message = f"jobs waiting on job {job_id} may still read its result; delete it once they have run"
        raise ApiError(409, "job_has_waiting_dependents", message)
