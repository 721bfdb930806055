"""/v1/jobs/{id}/artifacts: a job's binary outputs, listed, and served with ranges and ETags."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import Provide
from litestar.params import HeaderParameter, Parameter
from litestar.response import Stream

from infra import artifacts, jobs
from infra.keys import Principal
from schemas.artifacts import NAME, ArtifactList, ByteRange, Unsatisfiable, byte_range
from schemas.keys import Scope
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError, documented
from services.gateway.jobs import not_found

ArtifactName = Annotated[str, Parameter(description="The artifact's name")]


class ArtifactController(Controller):
    """The artifacts of the caller's tenant's jobs."""

    path = "/v1/jobs/{job_id:uuid}/artifacts"
    tags = ["jobs"]
    guards = [requires(Scope.JOBS_READ)]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", summary="A job's artifacts")
    async def list_artifacts(self, resources: Resources, principal: Principal, job_id: uuid.UUID) -> ArtifactList:
        """Name, content type, size and SHA-256 of each artifact of the job."""
        if await jobs.get_job(resources.pool, principal.tenant, job_id) is None:
            raise not_found(job_id)
        return ArtifactList(items=await artifacts.list_artifacts(resources.pool, job_id, principal.tenant))

    @get(
        "/{name:str}",
        summary="An artifact's bytes",
        responses={
            206: documented(bytes, "The byte range asked for"),
            304: documented(None, "Not modified: the ETag is the one given"),
            416: documented(None, "The range lies past the end"),
        },
    )
    async def get_artifact(
        self,
        resources: Resources,
        principal: Principal,
        job_id: uuid.UUID,
        name: ArtifactName,
        range_header: Annotated[str | None, HeaderParameter(name="Range")] = None,
        if_none_match: Annotated[str | None, HeaderParameter(name="If-None-Match")] = None,
    ) -> Stream | Response[bytes]:
        """The bytes, with Content-Type, Content-Length and ETag (the SHA-256); one byte range
        (`Range: bytes=…`) gets 206 and Content-Range, one past the end 416; If-None-Match with
        the ETag gets 304."""
        row = await artifacts.get_artifact(resources.pool, job_id, principal.tenant, name) if NAME.match(name) else None
        if row is None:
            raise ApiError(404, "artifact_not_found", f"job {job_id} has no artifact {name!r}")
        etag = f'"{row["sha256"]}"'
        size: int = row["size"]
        headers = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=31536000, immutable"}
        if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Response(b"", status_code=304, headers=headers)
        try:
            span = byte_range(range_header, size)
        except Unsatisfiable:
            return Response(b"", status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        status = 200 if span is None else 206
        if span is None:
            span = ByteRange(0, size - 1)
        else:
            headers["Content-Range"] = f"bytes {span.start}-{span.end}/{size}"
        headers["Content-Length"] = str(max(span.length, 0))
        headers["Content-Disposition"] = f'inline; filename="{name}"'
        body = artifacts.read(resources.pool, job_id, name, row["chunk_bytes"], span) if size else _empty()
        return Stream(body, status_code=status, media_type=row["content_type"], headers=headers)


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""
