"""/ui/jobs/{id}: one job, live (status, progress, timeline, artifacts), with Cancel and Retry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from infra import artifacts, jobs, jobs_bulk
from infra.jobs import to_view
from schemas.events import EventView
from schemas.jobs import TERMINAL, JobStatus, JobView
from schemas.keys import Scope
from services.gateway.deps import Resources
from services.gateway.errors import ApiError
from services.gateway.ui.jobs import cancel_notice, retry_notice
from services.gateway.ui.render import back_to, page
from services.gateway.ui.session import Ui, checked_form
from services.operations import annotate_waiting


def actions(job: JobView, ui: Ui) -> dict[str, bool]:
    """The actions the job's state and the viewer's scopes allow."""
    write = ui.can(Scope.JOBS_WRITE)
    return {
        "cancel": write and job.status not in TERMINAL,
        "retry": write and job.status in (JobStatus.FAILED, JobStatus.CANCELLED) and job.workflow_id is None,
    }


@dataclass(frozen=True)
class Moment:
    """A line of the timeline: an event, or the last of a run of progress reports (`reports`)."""

    event: EventView
    reports: int = 1


def timeline(events: list[EventView]) -> list[Moment]:
    """The events, each run of consecutive progress reports shown as its last one."""
    moments: list[Moment] = []
    for event in events:
        if event.type == "job.progress" and moments and moments[-1].event.type == "job.progress":
            moments[-1] = Moment(event, moments[-1].reports + 1)
        else:
            moments.append(Moment(event))
    return moments


async def all_events(resources: Resources, tenant: str, job_id: uuid.UUID) -> list[EventView]:
    """Every event of the job, oldest first, a page of GET /v1/jobs/{id}/events at a time."""
    events: list[EventView] = []
    while batch := await jobs.list_events(
        resources.pool, tenant, job_id, after=events[-1].id if events else 0, limit=1000
    ):
        events += batch
        if len(batch) < 1000:
            break
    return events


async def job_context(resources: Resources, ui: Ui, job_id: uuid.UUID) -> dict[str, Any]:
    """The job, its events and its artifacts, as GET /v1/jobs/{id}, …/events and …/artifacts
    answer; 404 in the API's words for a job the tenant does not have."""
    tenant = ui.principal.tenant
    row = await jobs.get_job(resources.pool, tenant, job_id)
    if row is None:
        raise ApiError(404, "job_not_found", f"no job {job_id}")
    job = to_view(row)
    await annotate_waiting(resources.pool, resources.settings, [job])
    events = await all_events(resources, tenant, job_id)
    files = await artifacts.list_artifacts(resources.pool, job_id, tenant)
    return {"job": job, "timeline": timeline(events), "artifacts": files, "allowed": actions(job, ui)}


class JobPage(Controller):
    """One job."""

    path = "/ui/jobs"

    @get("/{job_id:uuid}", name="ui-job")
    async def job(self, request: Request[Any, Any, Any], job_id: uuid.UUID, resources: Resources, ui: Ui) -> Template:
        """Everything about one job."""
        return page(request, "job.html", ui, **await job_context(resources, ui, job_id))

    @get("/{job_id:uuid}/detail")
    async def detail(
        self, request: Request[Any, Any, Any], job_id: uuid.UUID, resources: Resources, ui: Ui
    ) -> Template:
        """The job page's live part."""
        return page(request, "fragments/job_detail.html", ui, **await job_context(resources, ui, job_id))

    @post("/{job_id:uuid}/cancel", status_code=303)
    async def cancel(
        self, request: Request[Any, Any, Any], job_id: uuid.UUID, resources: Resources, ui: Ui
    ) -> Redirect:
        """Cancel the job (as POST /v1/jobs/cancel with its id)."""
        await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        counts = await jobs_bulk.cancel_jobs(resources.pool, ui.principal.tenant, [job_id])
        return back_to(request, f"/ui/jobs/{job_id}", cancel_notice(counts))

    @post("/{job_id:uuid}/retry", status_code=303)
    async def retry(self, request: Request[Any, Any, Any], job_id: uuid.UUID, resources: Resources, ui: Ui) -> Redirect:
        """Run the failed or cancelled job again (as POST /v1/jobs/retry with its id)."""
        await checked_form(request, ui)
        ui.require(Scope.JOBS_WRITE)
        counts = await jobs_bulk.retry_jobs(resources.pool, resources.dispatcher, ui.principal.tenant, [job_id])
        return back_to(request, f"/ui/jobs/{job_id}", retry_notice(counts))
