"""/v1/jobs/cancel and /v1/jobs/retry: cancel or retry up to 10,000 jobs at once, by ids or by filter."""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, post
from litestar.di import Provide

from infra import jobs_bulk
from infra.jobs import JobFilter
from infra.keys import Principal
from schemas.bulk import JobBulkCancelView, JobBulkFilter, JobBulkRetryView, JobBulkSelect, one_selector
from schemas.errors import nul_errors
from schemas.jobs import JobStatus
from schemas.keys import Scope
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError


def bulk_filter(where: JobBulkFilter) -> JobFilter:
    """A bulk body's filter as GET /v1/jobs's; 422 naming a text field holding a NUL character."""
    texts = {"engine": where.engine, "operation": where.operation, "node_key": where.node_key}
    if errors := nul_errors(texts, "filter"):
        raise ApiError(422, "invalid_request", f"{errors[0].field}: {errors[0].message}", errors)
    statuses = [where.status] if isinstance(where.status, JobStatus) else where.status
    tags = [where.tag] if isinstance(where.tag, str) else where.tag
    return JobFilter(
        statuses=None if statuses is None else [s.value for s in statuses],
        engine=where.engine,
        operation=where.operation,
        tags=tags or None,
        created_after=where.created_after,
        created_before=where.created_before,
        schedule_id=where.schedule_id,
        workflow_id=where.workflow_id,
        node_key=where.node_key,
    )


async def bulk_ids(
    data: JobBulkSelect, resources: Resources, tenant: str, selects: list[str]
) -> tuple[list[uuid.UUID], bool]:
    """The ids a bulk action acts on (given, or the first 10,000 the filter selects among jobs in
    `selects`); whether more matched. 422 naming the field unless exactly one selector is given."""
    if errors := one_selector(data.ids, data.filter):
        raise ApiError(422, "invalid_request", f"{errors[0].field}: {errors[0].message}", errors)
    if data.ids is not None:
        return data.ids, False
    assert data.filter is not None
    return await jobs_bulk.select_ids(resources.pool, tenant, bulk_filter(data.filter), selects)


class JobBulkController(Controller):
    """Many jobs of the caller's tenant at once."""

    path = "/v1/jobs"
    tags = ["jobs"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/cancel", guards=[requires(Scope.JOBS_WRITE)], summary="Cancel up to 10,000 jobs", status_code=200)
    async def cancel_many(self, data: JobBulkSelect, resources: Resources, principal: Principal) -> JobBulkCancelView:
        """By ids, or by filter (the first 10,000 unfinished jobs it matches, newest first; `more`
        says more matched): queued ones are cancelled, running ones asked to stop."""
        ids, more = await bulk_ids(data, resources, principal.tenant, jobs_bulk.CANCEL_SELECTS)
        counts = await jobs_bulk.cancel_jobs(resources.pool, principal.tenant, ids)
        return JobBulkCancelView(**msgspec.structs.asdict(counts), more=more)

    @post("/retry", guards=[requires(Scope.JOBS_WRITE)], summary="Retry up to 10,000 jobs", status_code=200)
    async def retry_many(self, data: JobBulkSelect, resources: Resources, principal: Principal) -> JobBulkRetryView:
        """By ids, or by filter (the first 10,000 failed or cancelled jobs it matches, newest
        first; `more` says more matched): each runs again as POST /v1/jobs/{id}/retry runs it."""
        ids, more = await bulk_ids(data, resources, principal.tenant, jobs_bulk.RETRY_SELECTS)
        counts = await jobs_bulk.retry_jobs(resources.pool, resources.dispatcher, principal.tenant, ids)
        return JobBulkRetryView(**msgspec.structs.asdict(counts), more=more)
