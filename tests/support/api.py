"""Small helpers for talking to the gateway in tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.system import eventually


async def submit(
    client: httpx.AsyncClient, operation: str, params: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """Submit a `general` job; the accepted job."""
    body = {"engine": "general", "operation": operation, "params": params or {}, **fields}
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


async def get_job(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    """A job as the API shows it."""
    response = await client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


async def wait_for_status(
    client: httpx.AsyncClient, job_id: str, *statuses: str, timeout: float = 20
) -> dict[str, Any]:
    """Poll a job until it is in one of `statuses`; the job."""
    return await wait_for_state(client, f"/v1/jobs/{job_id}", statuses, timeout=timeout)


async def wait_for_state(
    client: httpx.AsyncClient, path: str, statuses: tuple[str, ...], *, timeout: float
) -> dict[str, Any]:
    """Poll a resource (a job, a workflow) until its status is one of `statuses`; the resource."""
    last: dict[str, Any] = {}

    async def reached() -> dict[str, Any] | None:
        nonlocal last
        response = await client.get(path)
        assert response.status_code == 200, response.text
        last = response.json()
        return last if last["status"] in statuses else None

    try:
        found: dict[str, Any] = await eventually(reached, timeout=timeout, interval=0.05, message=f"{path} {statuses}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {last}") from None
    return found


async def events(client: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    """A job's state changes (its events but progress), each with the `from_status` and
    `to_status` it moved between, read from the job's view before and in it."""
    response = await client.get(f"/v1/jobs/{job_id}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    changes: list[dict[str, Any]] = [e for e in response.json()["items"] if e["type"] != "job.progress"]
    for before, event in zip([None, *changes], changes, strict=False):
        event["from_status"] = None if before is None else before["data"]["status"]
        event["to_status"] = event["data"]["status"]
    return changes
