"""The calls of jobs and workflows: submit (one or a batch), read, list, cancel, retry, history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from schemas.bulk import JobBulkCancelView, JobBulkRetryView, JobBulkSelect
from schemas.events import EventPage
from schemas.jobs import JobBatchSubmit, JobBatchView, JobPage, JobStatus, JobSubmit, JobView
from schemas.workflows import WorkflowPage, WorkflowRetrySubmit, WorkflowStatus, WorkflowSubmit, WorkflowView
from services.client.calls import Call, call, then

Id = uuid.UUID | str


def submit(
    engine: str,
    operation: str,
    params: dict[str, Any] | None = None,
    *,
    idempotency_key: str | None = None,
    **options: Any,
) -> Call[JobView]:
    """Submit a job: `engine`, `operation`, its `params` and any other field of JobSubmit
    (priority, tags, delay_seconds, run_at, max_retries, timeout_seconds, metadata, depends_on, …)."""
    body = {"engine": engine, "operation": operation, "params": params or {}, **options}
    msgspec.convert(body, JobSubmit)  # a misspelt or mistyped field fails here, naming it
    return call("POST", "/v1/jobs", JobView, body=body, headers={"Idempotency-Key": idempotency_key})


def submit_job(job: JobSubmit, *, idempotency_key: str | None = None) -> Call[JobView]:
    """Submit a job given as a JobSubmit; the same idempotency key again answers the same job."""
    return call("POST", "/v1/jobs", JobView, body=job, headers={"Idempotency-Key": idempotency_key})


def submit_batch(jobs: Sequence[JobSubmit], *, idempotency_key: str | None = None) -> Call[list[JobView]]:
    """Submit up to 1,000 jobs, all accepted or none; their views in the order given."""
    batch = call(
        "POST",
        "/v1/jobs/batch",
        JobBatchView,
        body=JobBatchSubmit(jobs=list(jobs)),
        headers={"Idempotency-Key": idempotency_key},
    )
    return then(batch, lambda view: view.jobs)


def get_job(job_id: Id) -> Call[JobView]:
    """A job: status, progress, result or error, attempts, timings."""
    return call("GET", f"/v1/jobs/{job_id}", JobView)


def list_jobs(
    *,
    status: Sequence[JobStatus | str] = (),
    engine: str | None = None,
    operation: str | None = None,
    tag: Sequence[str] = (),
    workflow_id: Id | None = None,
    schedule_id: Id | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[JobPage]:
    """A page of jobs, newest first; pass `next_cursor` back as `cursor` for the next one."""
    filters = {"status": list(status), "engine": engine, "operation": operation, "tag": list(tag)}
    more = {"workflow_id": workflow_id, "schedule_id": schedule_id, "limit": limit, "cursor": cursor}
    return call("GET", "/v1/jobs", JobPage, query={**filters, **more})


def cancel_job(job_id: Id) -> Call[JobView]:
    """Cancel a job (at once if it had not started; its worker stops it if running)."""
    return call("POST", f"/v1/jobs/{job_id}/cancel", JobView)


def retry_job(job_id: Id) -> Call[JobView]:
    """Run a failed or cancelled job again (attempts continue, a fresh retry budget)."""
    return call("POST", f"/v1/jobs/{job_id}/retry", JobView)


def delete_job(job_id: Id) -> Call[None]:
    """Delete a finished job with its events and artifacts."""
    return call("DELETE", f"/v1/jobs/{job_id}", type(None))


def job_events(job_id: Id, *, after: int = 0, limit: int = 200) -> Call[EventPage]:
    """A job's history (state changes and progress), oldest first."""
    return call("GET", f"/v1/jobs/{job_id}/events", EventPage, query={"after": after, "limit": limit})


def cancel_jobs(select: JobBulkSelect) -> Call[JobBulkCancelView]:
    """Cancel many jobs, by ids or by a filter."""
    return call("POST", "/v1/jobs/cancel", JobBulkCancelView, body=select)


def retry_jobs(select: JobBulkSelect) -> Call[JobBulkRetryView]:
    """Retry many failed or cancelled jobs, by ids or by a filter."""
    return call("POST", "/v1/jobs/retry", JobBulkRetryView, body=select)


def submit_workflow(workflow: WorkflowSubmit | dict[str, Any]) -> Call[WorkflowView]:
    """Submit a workflow (a DAG of nodes), given as a WorkflowSubmit or its JSON object."""
    if isinstance(workflow, dict):
        workflow = msgspec.convert(workflow, WorkflowSubmit)
    return call("POST", "/v1/workflows", WorkflowView, body=workflow)


def get_workflow(workflow_id: Id) -> Call[WorkflowView]:
    """A workflow with its nodes and their states."""
    return call("GET", f"/v1/workflows/{workflow_id}", WorkflowView)


def list_workflows(
    *, status: Sequence[WorkflowStatus | str] = (), name: str | None = None, limit: int = 50, cursor: str | None = None
) -> Call[WorkflowPage]:
    """A page of workflows (without their nodes), newest first."""
    filters = {"status": list(status), "name": name, "limit": limit, "cursor": cursor}
    return call("GET", "/v1/workflows", WorkflowPage, query=filters)


def cancel_workflow(workflow_id: Id) -> Call[WorkflowView]:
    """Cancel a workflow: no node starts any more, running ones are stopped."""
    return call("POST", f"/v1/workflows/{workflow_id}/cancel", WorkflowView)


def retry_workflow(workflow_id: Id, nodes: Sequence[str] | None = None) -> Call[WorkflowView]:
    """Run a failed or cancelled workflow again from its failed and cancelled nodes (or those named)."""
    body = WorkflowRetrySubmit(nodes=list(nodes)) if nodes else WorkflowRetrySubmit()
    return call("POST", f"/v1/workflows/{workflow_id}/retry", WorkflowView, body=body)
