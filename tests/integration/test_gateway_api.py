"""The job API: submission, idempotency, batches, reading and listing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.api import events, submit, wait_for_status
from tests.support.system import System

ECHO = {"engine": "general", "operation": "echo", "params": {"value": 1}}


async def test_submit_answers_202_with_the_job_and_its_location(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/jobs", json={**ECHO, "priority": "high", "tags": ["a", "b"], "metadata": {"k": "v"}}
    )
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["priority"] == 7
    assert (job["tags"], job["metadata"], job["attempts"]) == (["a", "b"], {"k": "v"}, 0)
    expected = {
        "id", "engine", "operation", "status", "priority", "params", "progress", "progress_message", "result", "error",
        "attempts", "tags", "metadata", "created_at", "started_at", "finished_at",
    }  # fmt: skip
    assert expected <= set(job)
    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200 and fetched.json()["id"] == job["id"]


async def test_idempotency_key_header_returns_the_same_job(client: httpx.AsyncClient, shared_system: System) -> None:
    first = await client.post("/v1/jobs", json=ECHO, headers={"Idempotency-Key": "order-17"})
    again = await client.post("/v1/jobs", json=ECHO, headers={"Idempotency-Key": "order-17"})
    in_body = await client.post("/v1/jobs", json={**ECHO, "idempotency_key": "order-17"})
    assert (first.status_code, again.status_code, in_body.status_code) == (202, 200, 200)
    assert first.json()["id"] == again.json()["id"] == in_body.json()["id"]
    # Then only one job exists under that key
    listing = (await client.get("/v1/jobs")).json()["items"]
    assert [job["id"] for job in listing] == [first.json()["id"]]


async def test_concurrent_submissions_with_one_key_create_one_job(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(client.post("/v1/jobs", json=ECHO, headers={"Idempotency-Key": "race"}) for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len({r.json()["id"] for r in responses}) == 1


async def test_idempotency_key_reused_for_another_job_is_a_conflict(client: httpx.AsyncClient) -> None:
    await client.post("/v1/jobs", json={**ECHO, "idempotency_key": "k1"})
    response = await client.post("/v1/jobs", json={**ECHO, "params": {"value": 2}, "idempotency_key": "k1"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "idempotency_key"


async def test_idempotency_keys_are_per_tenant(shared_system: System, client: httpx.AsyncClient) -> None:
    other_key = await shared_system.api_key("another-tenant-idem")
    async with shared_system.client(other_key) as other:
        mine = await client.post("/v1/jobs", json={**ECHO, "idempotency_key": "shared"})
        theirs = await other.post("/v1/jobs", json={**ECHO, "idempotency_key": "shared"})
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_batch_of_a_thousand_jobs_is_accepted_and_runs(client: httpx.AsyncClient) -> None:
    jobs = [{**ECHO, "params": {"value": i}} for i in range(1000)]
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs})
    assert response.status_code == 202
    accepted = response.json()["jobs"]
    assert [job["params"]["value"] for job in accepted] == list(range(1000))
    done = await wait_for_status(client, accepted[-1]["id"], "succeeded", timeout=60)
    assert done["result"] == {"value": 999}


async def _job_count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/jobs", params={"limit": 500})).json()["items"])


async def test_batch_under_an_idempotency_key_is_stored_once(client: httpx.AsyncClient) -> None:
    # Given a batch of three jobs sent under an Idempotency-Key
    batch = {"jobs": [{**ECHO, "params": {"value": i}} for i in range(3)]}
    first = await client.post("/v1/jobs/batch", json=batch, headers={"Idempotency-Key": "batch-1"})
    # When the same batch comes again under the key (spaced and ordered differently)
    respaced = json.dumps({"jobs": [dict(reversed(job.items())) for job in batch["jobs"]]}, indent=2)
    again = await client.post(
        "/v1/jobs/batch", content=respaced, headers={"Idempotency-Key": "batch-1", "content-type": "application/json"}
    )
    # Then it answers 200 with the same jobs, in order, and only three jobs exist
    assert (first.status_code, again.status_code) == (202, 200), again.text
    ids = [job["id"] for job in first.json()["jobs"]]
    assert [job["id"] for job in again.json()["jobs"]] == ids and len(set(ids)) == 3
    assert await _job_count(client) == 3


async def test_batch_key_reused_for_another_batch_is_a_conflict(client: httpx.AsyncClient) -> None:
    # Given a batch stored under a key
    await client.post("/v1/jobs/batch", json={"jobs": [ECHO]}, headers={"Idempotency-Key": "batch-2"})
    # When another body comes under the same key
    other = {"jobs": [ECHO, {**ECHO, "params": {"value": 2}}]}
    response = await client.post("/v1/jobs/batch", json=other, headers={"Idempotency-Key": "batch-2"})
    # Then it is 409 naming the key, and nothing more was stored
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "idempotency_conflict"
    assert response.json()["errors"][0]["field"] == "idempotency_key"
    assert await _job_count(client) == 1


async def test_concurrent_batches_under_one_key_store_one_batch(client: httpx.AsyncClient) -> None:
    # Given ten identical batches of five jobs sent at once under one key
    batch = {"jobs": [{**ECHO, "params": {"value": i}} for i in range(5)]}
    responses = await asyncio.gather(
        *(client.post("/v1/jobs/batch", json=batch, headers={"Idempotency-Key": "batch-race"}) for _ in range(10))
    )
    # Then one created the jobs, the others answer the same ones, and five jobs exist
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len({tuple(job["id"] for job in r.json()["jobs"]) for r in responses}) == 1
    assert await _job_count(client) == 5


async def test_get_unknown_job_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/jobs/01a20000-0000-7000-8000-000000000000")
    assert response.status_code == 404 and response.json()["error"] == "job_not_found"
    assert (await client.get("/v1/jobs/not-a-uuid")).status_code in (404, 422)


async def test_listing_filters_and_pages_newest_first(client: httpx.AsyncClient) -> None:
    # Given 5 echo jobs tagged "batch-a", 2 tagged "batch-b", and a failing one
    a = [await submit(client, "echo", {"value": i}, tags=["batch-a"]) for i in range(5)]
    b = [await submit(client, "echo", {"value": i}, tags=["batch-b"]) for i in range(2)]
    failing = await submit(client, "flaky", {"fail_times": 1, "permanent": True})
    await wait_for_status(client, failing["id"], "failed")
    for job in a + b:
        await wait_for_status(client, job["id"], "succeeded")

    # When paging through batch-a two at a time
    pages, cursor = [], None
    while True:
        params = {"tag": "batch-a", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/jobs", params=params)).json()
        pages.append([job["id"] for job in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Then every job comes once, newest first
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [job_id for page in pages for job_id in page] == [job["id"] for job in reversed(a)]

    by_status = (await client.get("/v1/jobs", params={"status": "failed"})).json()["items"]
    assert [job["id"] for job in by_status] == [failing["id"]]
    by_op = (await client.get("/v1/jobs", params={"operation": "flaky", "engine": "general"})).json()["items"]
    assert [job["id"] for job in by_op] == [failing["id"]]
    two_statuses = (await client.get("/v1/jobs", params=[("status", "failed"), ("status", "succeeded")])).json()[
        "items"
    ]
    assert len(two_statuses) == 8


async def test_listing_by_creation_time_range(client: httpx.AsyncClient) -> None:
    job = await submit(client, "echo", {"value": 1})
    created = datetime.fromisoformat(job["created_at"])
    inside = {
        "created_after": (created - timedelta(seconds=1)).isoformat(),
        "created_before": (created + timedelta(seconds=1)).isoformat(),
    }
    after = {"created_after": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    assert [j["id"] for j in (await client.get("/v1/jobs", params=inside)).json()["items"]] == [job["id"]]
    assert (await client.get("/v1/jobs", params=after)).json()["items"] == []


async def test_listing_limit_is_capped(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/jobs", params={"limit": 100_000})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "limit"


async def test_events_record_every_transition(client: httpx.AsyncClient) -> None:
    job = await submit(client, "echo", {"value": 1})
    await wait_for_status(client, job["id"], "succeeded")
    history = [(e["type"], e["data"]["status"], e["job_id"]) for e in await events(client, job["id"])]
    assert history == [
        ("job.queued", "queued", job["id"]),
        ("job.started", "running", job["id"]),
        ("job.succeeded", "succeeded", job["id"]),
    ]
