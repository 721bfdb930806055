"""Time-ordered job ids and opaque page cursors."""

from __future__ import annotations

import base64
import binascii
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then randomness, so ids sort by creation."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | rand & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 4122 variant
    return uuid.UUID(int=value)


def encode_cursor(last_id: uuid.UUID) -> str:
    """The cursor that continues a listing after `last_id`."""
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    """The id a cursor continues after; ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a valid cursor") from exc
    if len(raw) != 16:
        raise ValueError("not a valid cursor")
    return uuid.UUID(bytes=raw)


def encode_time_cursor(at: datetime, last_id: uuid.UUID) -> str:
    """The cursor that continues a listing ordered by (time, id), newest first, after this entry."""
    micros = (at - EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(micros.to_bytes(8, "big", signed=True) + last_id.bytes).decode().rstrip("=")


def decode_time_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (time, id) a time cursor continues after; ValueError if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a valid cursor") from exc
    if len(raw) != 24:
        raise ValueError("not a valid cursor")
    try:
        at = EPOCH + timedelta(microseconds=int.from_bytes(raw[:8], "big", signed=True))
    except OverflowError as exc:
        raise ValueError("not a valid cursor") from exc
    return at, uuid.UUID(bytes=raw[8:])
