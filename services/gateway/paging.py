"""Cursor pagination shared by the listings."""

from __future__ import annotations

import uuid

from schemas.errors import FieldError
from schemas.ids import decode_cursor
from services.gateway.errors import ApiError


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
