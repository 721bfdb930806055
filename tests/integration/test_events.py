"""GET /v1/events: the tenant's event log as pages, filtered, validated, and never another tenant's."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.api import submit, wait_for_status
from tests.support.system import System
from tests.support.workflows import echo, submit_workflow, wait_for_workflow


async def page(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def finished_jobs(client: httpx.AsyncClient, count: int, **fields: Any) -> list[str]:
    jobs = [await submit(client, "echo", {"value": i}, **fields) for i in range(count)]
    for job in jobs:
        await wait_for_status(client, job["id"], "succeeded")
    return [job["id"] for job in jobs]


async def test_events_page_oldest_first_and_continue_after_next_after(client: httpx.AsyncClient) -> None:
    # Given two jobs that ran (three events each: queued, started, succeeded)
    first, second = await finished_jobs(client, 2, tags=["paging"])
    # When the log is read two events at a time
    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        body = await page(client, after=after, limit=2)
        seen += body["items"]
        if body["next_after"] is None:
            break
        assert len(body["items"]) == 2 and body["next_after"] == body["items"][-1]["id"]
        after = body["next_after"]
    # Then every event comes once, oldest first, with the job's view at that moment
    ids = [event["id"] for event in seen]
    assert ids == sorted(set(ids))
    for job in (first, second):
        assert [e["type"] for e in seen if e["job_id"] == job] == ["job.queued", "job.started", "job.succeeded"]
    assert len(seen) == 6
    done = next(e for e in seen if e["type"] == "job.succeeded")
    assert done["data"]["status"] == "succeeded" and done["tags"] == ["paging"]


async def test_events_filter_by_job_workflow_tag_and_type(client: httpx.AsyncClient) -> None:
    tagged, plain = await finished_jobs(client, 1, tags=["red", "big"]) + await finished_jobs(client, 1)
    workflow = await submit_workflow(client, [echo("a", 1)])
    await wait_for_workflow(client, workflow["id"], "succeeded")

    by_job = (await page(client, job_id=plain))["items"]
    assert {e["job_id"] for e in by_job} == {plain} and len(by_job) == 3
    by_tags = (await page(client, tag=["red", "big"]))["items"]
    assert {e["job_id"] for e in by_tags} == {tagged}
    assert (await page(client, tag=["red", "small"]))["items"] == []
    succeeded = (await page(client, type="job.succeeded"))["items"]
    assert {e["type"] for e in succeeded} == {"job.succeeded"} and len(succeeded) == 3
    flows = (await page(client, type="workflow.*"))["items"]
    assert [e["type"] for e in flows] == ["workflow.started", "workflow.succeeded"]
    of_workflow = await page(client, workflow_id=workflow["id"], type=["job.succeeded", "workflow.succeeded"])
    assert [e["type"] for e in of_workflow["items"]] == ["job.succeeded", "workflow.succeeded"]
    assert len((await page(client, type="*"))["items"]) == len((await page(client))["items"])


async def test_malformed_event_queries_answer_422_naming_the_field(client: httpx.AsyncClient) -> None:
    for params, field in [
        ({"type": "job.exploded"}, "type"),
        ({"type": ["job.queued", "jobs.*"]}, "type"),
        ({"job_id": "not-a-uuid"}, "job_id"),
        ({"workflow_id": "42"}, "workflow_id"),
        ({"tag": "a\x00b"}, "tag"),
        ({"after": "-1"}, "after"),
        ({"limit": "0"}, "limit"),
    ]:
        response = await client.get("/v1/events", params=params)
        assert response.status_code == 422, (params, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (params, response.text)
    response = await client.get("/v1/events/stream", headers={"Last-Event-ID": "twelve"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Last-Event-ID"


async def test_another_tenants_events_never_appear_whatever_the_filter(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # Given a job of this tenant and one of another tenant with the same tag
    [mine] = await finished_jobs(client, 1, tags=["shared-tag"])
    async with shared_system.client(await shared_system.api_key(f"other-{secrets.token_hex(4)}")) as other:
        [theirs] = await finished_jobs(other, 1, tags=["shared-tag"])
        # When each lists with filters naming the other's job, tag or every type
        for params in ({"job_id": mine}, {"tag": "shared-tag"}, {"type": "*"}, {}):
            items = (await page(other, **params))["items"]
            # Then only its own events come back
            assert {e["job_id"] for e in items} <= {theirs}, params
        assert (await page(client, job_id=theirs))["items"] == []
