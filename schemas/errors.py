"""The body of every error the API returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


class FieldError(msgspec.Struct):
    """One problem with one field of a request (dotted path, `jobs[3].params.seconds`)."""

    field: str
    message: str


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What every 4xx/5xx answer carries: a stable code, a sentence, and the fields at fault."""

    error: str
    detail: str
    errors: list[FieldError] = []
    request_id: str | None = None


def field_error(message: str, at: str) -> FieldError:
    """A msgspec validation message, located at the dotted path `at`, as a FieldError.

    msgspec names a missing or unknown field inside its message ("Object contains unknown
    field `status`") while the location is the object holding it; the field is appended.
    """
    text, _, located = message.partition(" - at `")
    path = at
    if located:
        path = join_path(at, located.rstrip("`").removeprefix("$").lstrip("."))
    for marker in ("unknown field `", "missing required field `"):
        if marker in text:
            path = join_path(path, text.split(marker, 1)[1].split("`", 1)[0])
    return FieldError(field=path or "body", message=text)


def join_path(base: str, tail: str) -> str:
    """`base.tail`, without stray dots; list indices stay attached (`jobs[2]`)."""
    if not tail:
        return base
    if not base:
        return tail
    return base + tail if tail.startswith("[") else f"{base}.{tail}"


def nul_field(value: Any, at: str) -> str | None:
    """The path of the first text (key or value) in `value` holding a NUL character, which
    PostgreSQL cannot store; None if there is none."""
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = join_path(at, str(key))
            if "\x00" in str(key):
                return here
            if found := nul_field(item, here):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := nul_field(item, f"{at}[{index}]"):
                return found
    return None


def nul_errors(fields: Mapping[str, Any], at: str = "") -> list[FieldError]:
    """A FieldError for each of these fields (name → value) whose text holds a NUL character."""
    found = (nul_field(value, join_path(at, name)) for name, value in fields.items())
    return [FieldError(path, NUL_MESSAGE) for path in found if path is not None]
