"""Artifacts: the binary outputs of jobs, listed and served by the gateway."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec

#: What an artifact may be called: a file name without a directory.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArtifactView(msgspec.Struct, kw_only=True):
    """An artifact of a job: its name, type, size and SHA-256 (hex; also its ETag)."""

    name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime | None = None


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
