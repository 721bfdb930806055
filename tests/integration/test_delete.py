"""Deleting finished jobs (and workflows): what goes with them, and what is refused."""

from __future__ import annotations

import httpx

from tests.support.api import submit, wait_for_status
from tests.support.system import System
from tests.support.workflows import echo, submit_workflow, wait_for_workflow


async def test_a_finished_job_is_deleted_with_its_events_and_artifacts(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # Given a finished job that made an artifact
    params = {"title": "Gone tomorrow", "width": 320, "height": 200}
    accepted = await client.post(
        "/v1/jobs", json={"engine": "image_generation", "operation": "render_card", "params": params}
    )
    job_id = accepted.json()["id"]
    await wait_for_status(client, job_id, "succeeded", timeout=30)
    assert (await client.get(f"/v1/jobs/{job_id}/artifacts/card.png")).status_code == 200
    # When it is deleted
    response = await client.delete(f"/v1/jobs/{job_id}")
    assert response.status_code == 204, response.text
    # Then it, its events and its artifact's bytes are gone
    assert (await client.get(f"/v1/jobs/{job_id}")).status_code == 404
    assert (await client.get(f"/v1/jobs/{job_id}/artifacts/card.png")).status_code == 404
    assert (await client.get("/v1/events", params={"job_id": job_id})).json()["items"] == []
    pool = await shared_system.pool()
    try:
        left = await pool.fetchrow(
            "SELECT (SELECT count(*) FROM jobs WHERE id = $1) AS jobs,"
            " (SELECT count(*) FROM events WHERE job_id = $1) AS events,"
            " (SELECT count(*) FROM artifacts WHERE job_id = $1) AS artifacts,"
            " (SELECT count(*) FROM artifact_chunks WHERE job_id = $1) AS chunks",
            job_id,
        )
        assert dict(left) == {"jobs": 0, "events": 0, "artifacts": 0, "chunks": 0}
    finally:
        await pool.close()
    # And deleting it again answers 404
    assert (await client.delete(f"/v1/jobs/{job_id}")).status_code == 404


async def test_an_unfinished_job_a_workflow_node_and_a_needed_dependency_are_not_deleted(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # A job still running: 409 naming its status
    slow = await submit(client, "sleep", {"seconds": 30})
    await wait_for_status(client, slow["id"], "running")
    refused = await client.delete(f"/v1/jobs/{slow['id']}")
    assert refused.status_code == 409 and refused.json()["error"] == "job_not_finished"
    assert "running" in refused.json()["detail"]
    # A finished job another job still waits to read: 409
    done = await submit(client, "echo", {"value": 1})
    await wait_for_status(client, done["id"], "succeeded")
    waiting = await submit(
        client, "echo", {"value": {"$ref": f"{done['id']}.result.value"}}, depends_on=[done["id"], slow["id"]]
    )
    needed = await client.delete(f"/v1/jobs/{done['id']}")
    assert needed.status_code == 409 and needed.json()["error"] == "job_has_waiting_dependents"
    # Once the waiting job has run, the dependency can go
    assert (await client.post(f"/v1/jobs/{slow['id']}/cancel")).status_code == 202
    await wait_for_status(client, waiting["id"], "cancelled")
    assert (await client.delete(f"/v1/jobs/{done['id']}")).status_code == 204
    # A workflow's node: 409, delete the workflow
    workflow = await submit_workflow(client, [echo("a", 1)])
    await wait_for_workflow(client, workflow["id"], "succeeded")
    node = await client.delete(f"/v1/jobs/{workflow['nodes'][0]['job_id']}")
    assert node.status_code == 409 and node.json()["error"] == "job_in_workflow"
    # Another tenant's job: 404
    async with shared_system.client(await shared_system.api_key("deleter")) as other:
        assert (await other.delete(f"/v1/jobs/{slow['id']}")).status_code == 404


async def test_a_finished_workflow_is_deleted_whole_and_a_running_one_is_not(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # Given a finished workflow of two nodes, and a running one
    done = await submit_workflow(client, [echo("a", 1), echo("b", 2, "a")])
    done = await wait_for_workflow(client, done["id"], "succeeded")
    job_ids = [node["job_id"] for node in done["nodes"]]
    running = await submit_workflow(
        client, [{"key": "slow", "engine": "general", "operation": "sleep", "params": {"seconds": 30}}]
    )
    # When each is deleted
    refused = await client.delete(f"/v1/workflows/{running['id']}")
    assert refused.status_code == 409 and refused.json()["error"] == "workflow_not_finished"
    assert (await client.delete(f"/v1/workflows/{done['id']}")).status_code == 204
    # Then the finished one is gone with its jobs and events; the running one stays
    assert (await client.get(f"/v1/workflows/{done['id']}")).status_code == 404
    for job_id in job_ids:
        assert (await client.get(f"/v1/jobs/{job_id}")).status_code == 404
    assert (await client.get("/v1/events", params={"workflow_id": done["id"]})).json()["items"] == []
    assert (await client.get(f"/v1/workflows/{running['id']}")).status_code == 200
    assert (await client.delete(f"/v1/workflows/{done['id']}")).status_code == 404
    assert (await client.post(f"/v1/workflows/{running['id']}/cancel")).status_code in (200, 202)
    async with shared_system.client(await shared_system.api_key("wf-deleter")) as other:
        assert (await other.delete(f"/v1/workflows/{running['id']}")).status_code == 404
