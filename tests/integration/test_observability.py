"""Log lines carry their context: worker lines the job, gateway lines the request and tenant."""

from __future__ import annotations

import httpx

from tests.support.api import submit, wait_for_status
from tests.support.system import System, eventually


async def test_every_worker_line_of_a_job_carries_job_queue_actor_attempt(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    job = await submit(client, "flaky", {"fail_times": 1}, retry_backoff_seconds=0.05)
    await wait_for_status(client, job["id"], "succeeded")

    async def lines() -> list[dict]:
        found = [line for line in shared_system.logs("worker") if line.get("job_id") == job["id"]]
        return found if any(line["event"] == "job_succeeded" for line in found) else []

    found = await eventually(lines, timeout=5, message="the job's log lines")
    events = [line["event"] for line in found]
    assert {"job_started", "job_retry_scheduled", "job_succeeded"} <= set(events)
    assert any(line["logger"].startswith("dramatiq") for line in found), "Dramatiq's own lines carry the context too"
    for line in found:
        assert {"job_id", "queue", "actor", "attempt"} <= set(line), line
        assert line["queue"] == shared_system.settings.queue_prefix + "general" and line["actor"] == "general.flaky"
    assert [line["attempt"] for line in found if line["event"] == "job_started"] == [1, 2]


async def test_every_gateway_request_line_carries_request_id_and_tenant(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    response = await client.get("/v1/jobs", headers={"X-Request-ID": "trace-abc-123"})
    assert response.headers["x-request-id"] == "trace-abc-123"
    tenant = None

    async def line() -> dict | None:
        nonlocal tenant
        matches = [entry for entry in shared_system.logs("gateway") if entry.get("request_id") == "trace-abc-123"]
        return matches[-1] if matches else None

    found = await eventually(line, timeout=5, message="the request's log line")
    assert found["event"] == "request" and found["status"] == 200 and found["path"] == "/v1/jobs"
    assert found["tenant"].startswith("tenant-")
    generated = await client.get("/v1/engines")
    assert len(generated.headers["x-request-id"]) == 32


async def test_a_request_refused_before_its_handler_is_logged_with_its_status(shared_system: System) -> None:
    # Given no API key, When a request is refused by authentication
    async with shared_system.client(None) as anonymous:
        response = await anonymous.get("/v1/jobs", headers={"X-Request-ID": "trace-no-key-1"})
    assert response.status_code == 401

    # Then its access-log line says 401, not 500
    async def line() -> dict | None:
        matches = [entry for entry in shared_system.logs("gateway") if entry.get("request_id") == "trace-no-key-1"]
        return matches[-1] if matches else None

    found = await eventually(line, timeout=5, message="the request's log line")
    assert found["status"] == 401
