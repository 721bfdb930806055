"""Helpers for submitting and following workflows in tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import wait_for_state


def echo(key: str, value: Any, *deps: str, **fields: Any) -> dict[str, Any]:
    """A `general.echo` node."""
    return {
        "key": key,
        "engine": "general",
        "operation": "echo",
        "params": {"value": value},
        "depends_on": list(deps),
        **fields,
    }


def ref(path: str) -> dict[str, str]:
    """A reference to a parent's result (or to `$item`)."""
    return {"$ref": path}


async def submit_workflow(client: httpx.AsyncClient, nodes: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """Submit a workflow; the accepted workflow."""
    response = await client.post("/v1/workflows", json={"name": "test", "nodes": nodes, **fields})
    assert response.status_code == 202, response.text
    workflow: dict[str, Any] = response.json()
    return workflow


async def wait_for_workflow(
    client: httpx.AsyncClient, workflow_id: str, *statuses: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll a workflow until it is in one of `statuses`; the workflow."""
    return await wait_for_state(client, f"/v1/workflows/{workflow_id}", statuses, timeout=timeout)


def nodes_by_key(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A workflow's nodes, by key."""
    return {node["key"]: node for node in workflow["nodes"]}


async def node_job(client: httpx.AsyncClient, workflow: dict[str, Any], key: str) -> dict[str, Any]:
    """The job of a plain node."""
    response = await client.get(f"/v1/jobs/{nodes_by_key(workflow)[key]['job_id']}")
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def flaky(key: str, fail_times: Any, *deps: str, **fields: Any) -> dict[str, Any]:
    """A `general.flaky` node failing its first `fail_times` attempts permanently."""
    params = {"fail_times": fail_times, "permanent": True}
    return {"key": key, "engine": "general", "operation": "flaky", "params": params, "depends_on": list(deps), **fields}


def sleep(key: str, seconds: Any, *deps: str, **fields: Any) -> dict[str, Any]:
    """A `general.sleep` node."""
    params = {"seconds": seconds}
    return {"key": key, "engine": "general", "operation": "sleep", "params": params, "depends_on": list(deps), **fields}


async def add_nodes(client: httpx.AsyncClient, workflow_id: str, nodes: list[dict[str, Any]]) -> httpx.Response:
    """Ask to add nodes to a workflow; the answer."""
    return await client.post(f"/v1/workflows/{workflow_id}/nodes", json={"nodes": nodes})


async def retry_workflow(client: httpx.AsyncClient, workflow_id: str, nodes: list[str] | None = None) -> httpx.Response:
    """Ask to run a workflow again (from `nodes`, or from all its failed and cancelled ones); the answer."""
    body = None if nodes is None else {"nodes": nodes}
    return await client.post(f"/v1/workflows/{workflow_id}/retry", json=body)


async def workflow_event_types(client: httpx.AsyncClient, workflow_id: str) -> list[str]:
    """The types of a workflow's own events (workflow.*), oldest first."""
    query = {"workflow_id": workflow_id, "type": "workflow.*", "limit": 1000}
    response = await client.get("/v1/events", params=query)
    assert response.status_code == 200, response.text
    return [event["type"] for event in response.json()["items"]]
