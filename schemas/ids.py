"""Time-ordered job ids, opaque page cursors, and the names templates are referred to by."""

from __future__ import annotations

import base64
import binascii
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A template's name, and a reference to one: `name` (its latest version) or `name@3`.
TEMPLATE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"
TEMPLATE_REF_PATTERN = rf"^{TEMPLATE_NAME_PATTERN}(@[1-9][0-9]{{0,8}})?$"
TEMPLATE_REF = {"pattern": TEMPLATE_REF_PATTERN}

_last_ms = 0
_sequence = 0
_sequence_lock = threading.Lock()


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit sequence, then randomness, so ids
    sort by creation — within one millisecond too, for the ids one process makes (the sequence
    counts up from a random start in each millisecond: RFC 9562's method 1). An id for a given
    `now_ms` takes a random sequence instead."""
    global _last_ms, _sequence
    if now_ms is not None:
        return _uuid7(now_ms, int.from_bytes(os.urandom(2), "big") & 0xFFF)
    ms = time.time_ns() // 1_000_000
    with _sequence_lock:
        if ms > _last_ms:
            _last_ms, _sequence = ms, int.from_bytes(os.urandom(2), "big") & 0x7FF
        else:  # the same millisecond (or the clock went back): count on from the last id
            ms, _sequence = _last_ms, _sequence + 1
            if _sequence > 0xFFF:
                _last_ms += 1
                ms, _sequence = _last_ms, 0
        sequence = _sequence
    return _uuid7(ms, sequence)


def _uuid7(ms: int, sequence: int) -> uuid.UUID:
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | sequence << 64 | 0x2 << 62 | rand
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
    """The (time, id) a time cursor continues after (a time past the years 1–9999 as the first
    or last there is); ValueError if it is not 24 bytes in base64url."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a valid cursor") from exc
    if len(raw) != 24:
        raise ValueError("not a valid cursor")
    micros = int.from_bytes(raw[:8], "big", signed=True)
    try:
        at = EPOCH + timedelta(microseconds=micros)
    except OverflowError:  # past the years 1–9999: continues after the first or the last time there is
        at = (datetime.max if micros > 0 else datetime.min).replace(tzinfo=UTC)
    return at, uuid.UUID(bytes=raw[8:])
