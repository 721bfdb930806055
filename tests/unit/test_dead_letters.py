"""Dead letters without I/O: time cursors, bulk selectors, message ids, tenant scope."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from infra.dead_letter_queue import Taken, message_job_id, superseded
from infra.keys import Principal
from schemas.bulk import one_selector
from schemas.ids import decode_time_cursor, encode_cursor, encode_time_cursor
from schemas.keys import Scope
from services.gateway.auth import tenant_scope
from services.gateway.errors import ApiError


def test_time_cursor_round_trips_to_the_microsecond() -> None:
    at, last = datetime(2026, 12, 1, 22, 0, 0, 123456, tzinfo=UTC), uuid.uuid4()
    assert decode_time_cursor(encode_time_cursor(at, last)) == (at, last)


@pytest.mark.parametrize("cursor", ["nope", encode_cursor(uuid.uuid4()), "", "!!!!"])
def test_time_cursor_refuses_what_it_did_not_make(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a valid cursor"):
        decode_time_cursor(cursor)


def test_one_selector_names_the_field_at_fault() -> None:
    assert one_selector(None, None)[0].field == "ids"
    assert one_selector([uuid.uuid4()], {})[0].field == "filter"
    assert one_selector([uuid.uuid4()], None) == [] and one_selector(None, {}) == []


def test_message_job_id_reads_the_property_or_the_body() -> None:
    body = json.dumps({"message_id": "from-body", "options": {"attempt": 3}}).encode()
    assert message_job_id(SimpleNamespace(message_id="from-property"), body) == ("from-property", 3)
    assert message_job_id(SimpleNamespace(message_id=None), body) == ("from-body", 3)
    assert message_job_id(SimpleNamespace(message_id=None), b"\xff not json") == (None, None)
    assert message_job_id(SimpleNamespace(message_id=None), b"[1]") == (None, None)


def test_superseded_is_a_target_message_sent_for_an_attempt_already_made() -> None:
    # Given a job replayed after 2 attempts
    targets = {"j": 2}
    # Then its messages for attempts 1 and 2 are old dead letters; one for attempt 3 is new
    assert superseded(targets, Taken(1, "j", 2)) and superseded(targets, Taken(2, "j", 1))
    assert not superseded(targets, Taken(3, "j", 3))
    # And messages of other jobs, or without an attempt, are not judged here
    assert not superseded(targets, Taken(4, "k", 1)) and not superseded(targets, Taken(5, "j", None))


def test_tenant_scope_lets_only_admin_keys_choose() -> None:
    # Given a member key and an admin key of tenant "a"
    member = Principal(uuid.uuid4(), "a", frozenset({Scope.JOBS_READ}))
    admin = Principal(uuid.uuid4(), "a", frozenset({Scope.ADMIN}))
    # Then a member acts on its own tenant, and may not name another
    assert tenant_scope(member, None) == "a" and tenant_scope(member, "a") == "a"
    with pytest.raises(ApiError) as refused:
        tenant_scope(member, "b")
    assert refused.value.status_code == 403 and refused.value.errors[0].field == "tenant"
    # And an admin acts on the tenant it names, or on every tenant (None)
    assert tenant_scope(admin, "b") == "b" and tenant_scope(admin, None) is None
