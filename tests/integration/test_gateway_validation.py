"""Bad input: every malformed request gets a 4xx JSON error naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.system import System

ECHO: dict[str, Any] = {"engine": "general", "operation": "echo", "params": {"value": 1}}


def _fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json()["errors"]]


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs", content=b'{"engine": "general",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_request" and response.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"engine": 7}, "engine"),
        ({"priority": 10}, "priority"),
        ({"priority": -1}, "priority"),
        ({"priority": "urgent"}, "priority"),
        ({"max_retries": "three"}, "max_retries"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"tags": ["ok", ""]}, "tags[1]"),
        ({"params": [1, 2]}, "params"),
        ({"status": "succeeded"}, "status"),
        ({"tenant": "someone-else"}, "tenant"),
        ({"attempts": 0}, "attempts"),
        ({"result": {"value": 1}}, "result"),
    ],
)
async def test_wrong_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/jobs", json={**ECHO, **change})
    assert response.status_code == 422, response.text
    assert _fields(response) == [field]


async def test_missing_fields_are_named(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs", json={"engine": "general"})
    assert response.status_code == 422 and _fields(response) == ["operation"]


async def test_unknown_engine_and_operation_are_named(client: httpx.AsyncClient) -> None:
    engine = await client.post("/v1/jobs", json={**ECHO, "engine": "telepathy"})
    operation = await client.post("/v1/jobs", json={**ECHO, "operation": "teleport"})
    assert (engine.status_code, _fields(engine)) == (422, ["engine"])
    assert (operation.status_code, _fields(operation)) == (422, ["operation"])
    assert "echo" in operation.json()["detail"]


@pytest.mark.parametrize(
    ("operation", "params", "field"),
    [
        ("sleep", {"seconds": "long"}, "params.seconds"),
        ("sleep", {}, "params.seconds"),
        ("sleep", {"seconds": 1, "extra": True}, "params.extra"),
        ("sleep", {"seconds": -1}, "params.seconds"),
        ("flaky", {"fail_times": 1.5}, "params.fail_times"),
    ],
)
async def test_params_must_fit_the_operation(
    client: httpx.AsyncClient, operation: str, params: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/jobs", json={"engine": "general", "operation": operation, "params": params})
    assert response.status_code == 422 and _fields(response) == [field]


async def test_backoff_cap_below_base_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs", json={**ECHO, "retry_backoff_seconds": 10, "retry_backoff_max_seconds": 1})
    assert response.status_code == 422 and _fields(response) == ["retry_backoff_max_seconds"]


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient) -> None:
    big = {**ECHO, "params": {"value": "x" * (1024 * 1024)}}
    response = await client.post("/v1/jobs", json=big)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"


async def test_header_and_body_idempotency_keys_must_agree(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/jobs", json={**ECHO, "idempotency_key": "a"}, headers={"Idempotency-Key": "b"})
    assert response.status_code == 422 and _fields(response) == ["idempotency_key"]


async def test_batch_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    # Given a batch whose jobs 1 and 3 are wrong
    jobs = [
        ECHO,
        {**ECHO, "operation": "nope"},
        ECHO,
        {"engine": "general", "operation": "sleep", "params": {"seconds": "x"}},
    ]
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs})
    # Then both are named, and nothing was stored
    assert response.status_code == 422
    assert _fields(response) == ["jobs[1].operation", "jobs[3].params.seconds"]
    assert (await client.get("/v1/jobs")).json()["items"] == []


async def test_batch_shape_errors_are_named(client: httpx.AsyncClient) -> None:
    too_many = await client.post("/v1/jobs/batch", json={"jobs": [ECHO] * 1001})
    empty = await client.post("/v1/jobs/batch", json={"jobs": []})
    unknown = await client.post("/v1/jobs/batch", json={"jobs": [{**ECHO, "status": "done"}]})
    repeated = await client.post("/v1/jobs/batch", json={"jobs": [{**ECHO, "idempotency_key": "k"}] * 2})
    assert (too_many.status_code, _fields(too_many)) == (422, ["jobs"])
    assert (empty.status_code, _fields(empty)) == (422, ["jobs"])
    assert (unknown.status_code, _fields(unknown)) == (422, ["jobs[0].status"])
    assert (repeated.status_code, _fields(repeated)) == (422, ["jobs[1].idempotency_key"])


async def test_bad_query_parameters_are_named(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, str | int], str]] = [
        ({"cursor": "garbage!"}, "cursor"),
        ({"status": "sleeping"}, "status"),
        ({"limit": 0}, "limit"),
        ({"created_after": "yesterday"}, "created_after"),
    ]
    for params, field in cases:
        response = await client.get("/v1/jobs", params=params)
        assert response.status_code == 422, (params, response.text)
        assert _fields(response) == [field]


async def test_wrong_method_and_unknown_path_are_json(shared_system: System, client: httpx.AsyncClient) -> None:
    method = await client.delete("/v1/jobs")
    path = await client.get("/v1/nothing-here")
    assert method.status_code == 405 and method.json()["error"] == "method_not_allowed"
    assert path.status_code == 404 and path.json()["error"] == "not_found"


async def test_non_object_bodies_are_refused(client: httpx.AsyncClient) -> None:
    for body in (b"[]", b"null", b"42", b'"text"'):
        response = await client.post("/v1/jobs", content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (body, response.status_code)
        assert response.json()["errors"]


async def test_nul_characters_are_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    # PostgreSQL cannot store U+0000 in text or jsonb: every place one can arrive answers 422
    job = {"engine": "general", "operation": "echo", "params": {"value": {"a": ["ok", "x\u0000y"]}}}
    response = await client.post("/v1/jobs", json=job)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "params.value.a[1]"
    response = await client.post("/v1/jobs", json={**job, "params": {"value": 1}, "metadata": {"k\u0000": 1}})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "metadata.k\u0000"
    node = {"key": "a", "engine": "general", "operation": "echo", "params": {"value": 1}}
    response = await client.post("/v1/workflows", json={"name": "w\u0000", "nodes": [node]})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "name"
    for path, params in (("/v1/jobs", {"tag": "a\u0000"}), ("/v1/workflows", {"name": "\u0000"})):
        response = await client.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] in {"tag", "name"}


async def test_bodies_nested_a_thousand_levels_deep_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    # Given bodies nested 1,000 levels deep in a job's params or metadata, a batch, a workflow
    # node and a schedule's job (the JSON text is built by hand: encoders recurse too)
    deep = "[" * 1000 + "1" + "]" * 1000
    cases = [
        ("/v1/jobs", '{"engine": "general", "operation": "echo", "params": {"value": %s}}', "params.value[0]"),
        ("/v1/jobs", '{"engine": "general", "operation": "echo", "metadata": {"m": %s}}', "metadata.m[0]"),
        ("/v1/jobs/batch", '{"jobs": [{"engine": "general", "operation": "echo", "params": %s}]}', "jobs[0].params"),
        ("/v1/workflows", '{"name": "w", "nodes": [{"key": "a", "params": %s}]}', "nodes[0].params"),
        ("/v1/schedules", '{"name": "s", "cron": "* * * * *", "job": {"params": {"v": %s}}}', "job.params.v"),
    ]
    for path, template, field in cases:
        # When each is posted
        response = await client.post(path, content=template % deep, headers={"content-type": "application/json"})
        # Then it is a 422 naming the field, never a 500
        assert response.status_code == 422, (path, response.text)
        assert _fields(response) == [field], path
    assert (await client.get("/v1/jobs")).json()["items"] == []


async def test_times_beyond_year_9999_in_utc_are_422(client: httpx.AsyncClient) -> None:
    # Given a time that is valid RFC 3339 but outside datetime's range once converted to UTC
    for path in ("/v1/jobs", "/v1/workflows"):
        response = await client.get(path, params={"created_before": "9999-12-31T23:59:59-23:59"})
        # Then the parameter is named
        assert response.status_code == 422, response.text
        assert _fields(response) == ["created_before"]


async def test_empty_body_and_empty_idempotency_key_are_named(client: httpx.AsyncClient) -> None:
    empty = await client.post("/v1/jobs", content=b"", headers={"content-type": "application/json"})
    no_key = await client.post("/v1/jobs", json=ECHO, headers={"Idempotency-Key": ""})
    assert (empty.status_code, _fields(empty)) == (422, ["body"])
    assert (no_key.status_code, _fields(no_key)) == (422, ["idempotency_key"])


async def test_diagnostic_operations_are_unknown_unless_diagnostics_are_on(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given a gateway without CONVEYOR_DIAGNOSTICS
    system = await make_system(diagnostics=False)
    system.start_gateway()
    async with system.client(await system.api_key("plain")) as http:
        # When a tenant submits general.block, alone or in a workflow
        job = {"engine": "general", "operation": "block", "params": {"seconds": 1}}
        single = await http.post("/v1/jobs", json=job)
        node = await http.post("/v1/workflows", json={"name": "w", "nodes": [{"key": "a", **job}]})
        engines = (await http.get("/v1/engines")).json()["engines"]
    # Then it is an unknown operation, and the engine list does not offer it
    assert (single.status_code, _fields(single)) == (422, ["operation"])
    assert "unknown operation 'block'" in single.json()["detail"]
    assert (node.status_code, _fields(node)) == (422, ["nodes[0].operation"])
    general = next(engine for engine in engines if engine["name"] == "general")
    assert "block" not in {op["name"] for op in general["operations"]}
    assert "echo" in {op["name"] for op in general["operations"]}


async def test_values_are_taken_only_in_their_documented_json_types(client: httpx.AsyncClient) -> None:
    # Given a job whose priority is text holding a number, or whose retries are text
    # When each is submitted
    as_text = await client.post("/v1/jobs", json={**ECHO, "priority": "7"})
    retries = await client.post("/v1/jobs", json={**ECHO, "max_retries": "3"})
    integral = await client.post("/v1/jobs", json={**ECHO, "max_retries": 3.0})
    # Then text is no number (the priority's error names the values it takes); 3.0 is an integer
    assert as_text.status_code == 422 and _fields(as_text) == ["priority"]
    assert as_text.json()["errors"][0]["message"].endswith("must be one of 0–9, critical, high, low, normal")
    assert retries.status_code == 422 and _fields(retries) == ["max_retries"]
    assert integral.status_code == 202, integral.text


async def test_enum_errors_name_the_allowed_values(client: httpx.AsyncClient) -> None:
    # Given an unknown status filter, dependency-failure policy and workflow failure policy
    status = await client.get("/v1/jobs", params={"status": "sleeping"})
    policy = await client.post("/v1/jobs", json={**ECHO, "on_dependency_failure": "ignore"})
    workflow = await client.post("/v1/workflows", json={"nodes": [{"key": "a", **ECHO}], "on_failure": "shrug"})
    # Then each error names the field and lists what it takes
    assert _fields(status) == ["status"] and "queued" in status.json()["errors"][0]["message"]
    assert _fields(policy) == ["on_dependency_failure"] and "cancel, run" in policy.json()["errors"][0]["message"]
    assert workflow.status_code == 422 and _fields(workflow) == ["on_failure"]
    assert "cancel_dependents" in workflow.json()["errors"][0]["message"]


async def test_unknown_query_parameters_are_422_naming_them(client: httpx.AsyncClient) -> None:
    # Given a listing asked with a misspelt filter, and a time that is a number
    misspelt = await client.get("/v1/jobs", params={"stat": "failed"})
    number = await client.get("/v1/jobs", params={"created_before": "0.5"})
    known = await client.get("/v1/jobs", params={"status": "failed", "limit": 1})
    # Then the misspelling and the number are refused by name; known parameters still work
    assert misspelt.status_code == 422 and _fields(misspelt) == ["stat"]
    assert number.status_code == 422 and _fields(number) == ["created_before"]
    assert known.status_code == 200, known.text
