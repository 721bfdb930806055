"""Query parameters shared by the listings: cursors, text and time filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from litestar.params import Parameter

from schemas.errors import NUL_MESSAGE, FieldError, nul_field
from schemas.ids import decode_cursor
from services.gateway.errors import ApiError

#: A listing's `cursor`: the `next_cursor` of the page before (base64url of the last id).
Cursor = Annotated[
    str | None, Parameter(description="next_cursor of the previous page", pattern=r"^[A-Za-z0-9_-]{22}$")
]
#: The `cursor` of a listing ordered by time, then id.
TimeCursor = Annotated[
    str | None, Parameter(description="next_cursor of the previous page", pattern=r"^[A-Za-z0-9_-]{32}$")
]


def after_cursor(cursor: str | None) -> uuid.UUID | None:
    """The id a listing continues after; 422 naming `cursor` if it is not one of ours."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError:
        raise ApiError(
            422, "invalid_request", "cursor is not valid", [FieldError("cursor", "not a cursor this API gave")]
        ) from None


def text_filters(**filters: str | list[str] | None) -> None:
    """422 naming the query parameter whose text holds a NUL character (no stored text can)."""
    if errors := [FieldError(name, NUL_MESSAGE) for name, value in filters.items() if nul_field(value, name)]:
        raise ApiError(422, "invalid_request", f"{errors[0].field} {NUL_MESSAGE}", errors)


def time_filters(**filters: datetime | None) -> None:
    """422 naming the query parameter whose time lies outside the years 1–9999 once in UTC
    (`0001-01-01T00:00:00+01:00`), which no stored time can be compared with."""
    errors = []
    for name, value in filters.items():
        try:
            if value is not None:
                value.astimezone(UTC)
        except OverflowError:
            errors.append(FieldError(name, "lies outside the years 1 to 9999 in UTC"))
    if errors:
        raise ApiError(422, "invalid_request", f"{errors[0].field} {errors[0].message}", errors)
