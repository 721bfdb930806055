"""Time-ordered ids and cursors."""

from __future__ import annotations

import uuid

import pytest

from schemas.ids import decode_cursor, encode_cursor, uuid7


def test_uuid7_is_version_7_and_sorts_by_time() -> None:
    first, second = uuid7(1_000), uuid7(2_000)
    assert first.version == 7 and first.variant == uuid.RFC_4122
    assert first < second


def test_uuid7_is_unique_within_a_millisecond() -> None:
    assert len({uuid7(5) for _ in range(1000)}) == 1000


def test_uuid7_made_in_one_process_sort_in_the_order_made() -> None:
    # Given many ids made within a few milliseconds, Then they sort as they were made
    made = [uuid7() for _ in range(10_000)]
    assert made == sorted(made)
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in made[:100])


def test_cursor_round_trips() -> None:
    job_id = uuid7()
    assert decode_cursor(encode_cursor(job_id)) == job_id


@pytest.mark.parametrize("cursor", ["", "abc", "!!!!", "a" * 40])
def test_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor(cursor)
