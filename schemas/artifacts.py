"""Artifacts: the binary outputs of jobs, listed and served by the gateway."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

#: What an artifact may be called: a file name without a directory.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArtifactView(msgspec.Struct, kw_only=True):
    """An artifact of a job: its name, type, size and SHA-256 (hex; also its ETag)."""

    name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime | None = None


#: How params name an artifact of an earlier job: `<job id>/<artifact name>`.
ARTIFACT_REF = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}/" + NAME.pattern[1:]


#: The job id the contracts' examples give their input artifacts: replace it with one of yours.
EXAMPLE_JOB_ID = "01234567-89ab-7def-8123-456789abcdef"


class ArtifactInput(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={"ref": "$artifact"}):
    """An input that is an artifact of an earlier job of the same tenant, written in params as
    `{"$artifact": "<job id>/<name>"}` (in a workflow, `{"$ref": "<node>.artifacts.<name>"}`
    becomes one when the node is queued)."""

    ref: Annotated[str, Meta(pattern=ARTIFACT_REF, description="<job id>/<artifact name>")]

    @property
    def job_id(self) -> uuid.UUID:
        """The job that made it."""
        return uuid.UUID(self.ref.partition("/")[0])

    @property
    def name(self) -> str:
        """Its name among the job's artifacts."""
        return self.ref.partition("/")[2]


def artifact_inputs(value: object, at: str = "") -> Iterator[tuple[str, ArtifactInput]]:
    """Every well-formed `{"$artifact": "<job id>/<name>"}` in a params value, with its path
    (`a.b[2]`; ill-formed ones are the params' validation's to refuse)."""
    if isinstance(value, dict):
        ref = value.get("$artifact")
        if len(value) == 1 and isinstance(ref, str):
            if re.fullmatch(ARTIFACT_REF, ref):
                yield at, ArtifactInput(ref)
            return
        for key, item in value.items():
            yield from artifact_inputs(item, f"{at}.{key}" if at else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from artifact_inputs(item, f"{at}[{index}]")


class ArtifactList(msgspec.Struct):
    """A job's artifacts, by name."""

    items: list[ArtifactView]


class ByteRange(msgspec.Struct, frozen=True):
    """Bytes `start` … `end` (inclusive) of an artifact."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """How many bytes."""
        return self.end - self.start + 1


class Unsatisfiable(ValueError):
    """A Range that asks for no byte of the artifact (416)."""


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a `Range: bytes=…` header asks for (None: the whole artifact, also when
    the header is not one byte range this can answer, which HTTP lets a server ignore).

    Raises Unsatisfiable when the range lies past the end."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first or last) or not all(part.isdigit() for part in (first, last) if part):
        return None
    if not first:  # the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        raise Unsatisfiable(header)
    if end < start:
        return None
    return ByteRange(start, end)
