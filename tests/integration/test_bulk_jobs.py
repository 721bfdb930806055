"""Bulk actions on jobs: POST /v1/jobs/cancel and /v1/jobs/retry by ids or by filter, with
counts per outcome, tenant-scoped, at most 10,000 jobs a call."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from schemas.keys import Scope
from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.own_system import own_system
from tests.support.system import System
from tests.support.workflows import node_job, submit_workflow, wait_for_workflow

MEMBER = (Scope.JOBS_READ, Scope.JOBS_WRITE)
FAILS_ONCE = {"fail_times": 1, "permanent": True}
LATER = {"delay_seconds": 3600}


@pytest.fixture(scope="module")
async def system(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """A Conveyor with one worker thread: while it runs one job, the jobs behind it stay queued."""
    async with own_system(settings, template_url, tmp_path_factory.mktemp("bulk"), threads=1) as running:
        yield running


async def member(system: System) -> httpx.AsyncClient:
    """A client with a non-admin key of a fresh tenant."""
    return system.client(await system.api_key(f"t-{secrets.token_hex(3)}", MEMBER))


async def post(http: httpx.AsyncClient, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/jobs/<action>; the counts answered."""
    response = await http.post(f"/v1/jobs/{action}", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def running_job(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A long job the single worker thread is running."""
    job = await submit(http, "sleep", {"seconds": 60}, **fields)
    return await wait_for_status(http, job["id"], "running")


async def test_bulk_cancel_by_ids_counts_each_outcome(system: System) -> None:
    # Given a succeeded job, a running one, two queued behind it, and another tenant's job
    async with await member(system) as a, await member(system) as b:
        done = await wait_for_status(a, (await submit(a, "echo", {"value": 1}))["id"], "succeeded")
        running = await running_job(a)
        queued = [await submit(a, "sleep", {"seconds": 0.1}) for _ in range(2)]
        assert [(await get_job(a, job["id"]))["status"] for job in queued] == ["queued", "queued"]
        theirs = await submit(b, "echo", {"value": 2}, **LATER)
        ids = [running["id"], *(job["id"] for job in queued), done["id"], theirs["id"], str(uuid.uuid4())]

        # When all are cancelled in one call
        answer = await post(a, "cancel", {"ids": ids})

        # Then each outcome is counted
        assert answer == {"cancelled": 2, "cancel_requested": 1, "not_cancellable": 1, "not_found": 2, "more": False}
        # And the queued jobs are cancelled, the running one is stopped by its worker
        for job in queued:
            assert (await get_job(a, job["id"]))["status"] == "cancelled"
        stopped = await wait_for_status(a, running["id"], "cancelled")
        assert stopped["error"]["category"] == "cancelled"
        last = (await events(a, running["id"]))[-1]
        assert last["type"] == "job.cancelled" and last["data"]["cancel_requested_at"] is not None
        # And the other tenant's job and the finished one are untouched
        assert (await get_job(b, theirs["id"]))["status"] == "scheduled"
        assert (await get_job(a, done["id"]))["status"] == "succeeded"


async def test_bulk_cancel_by_filter_cancels_only_matching_unfinished_jobs(system: System) -> None:
    # Given a running and a queued job tagged "bulk", and an untagged job queued behind them
    async with await member(system) as a:
        running = await running_job(a, tags=["bulk"])
        tagged = await submit(a, "sleep", {"seconds": 0.1}, tags=["bulk"])
        untagged = await submit(a, "echo", {"value": 3})

        # When jobs are cancelled by a filter that selects nothing unfinished, then by tag
        nothing = await post(a, "cancel", {"filter": {"status": ["succeeded", "failed"]}})
        answer = await post(a, "cancel", {"filter": {"tag": "bulk", "engine": "general"}})

        # Then only the tagged ones are cancelled (the running one by its worker)
        assert nothing == {"cancelled": 0, "cancel_requested": 0, "not_cancellable": 0, "not_found": 0, "more": False}
        assert (answer["cancelled"], answer["cancel_requested"], answer["more"]) == (1, 1, False)
        assert (await get_job(a, tagged["id"]))["status"] == "cancelled"
        await wait_for_status(a, running["id"], "cancelled")
        # And the untagged job runs
        await wait_for_status(a, untagged["id"], "succeeded")


async def test_bulk_retry_runs_failed_and_cancelled_jobs_again(system: System) -> None:
    # Given two failed jobs, a cancelled one, a succeeded one, a failed workflow node, and
    # another tenant's failed job
    async with await member(system) as a, await member(system) as b:
        failed = [await wait_for_status(a, (await submit(a, "flaky", FAILS_ONCE))["id"], "failed") for _ in range(2)]
        cancelled = await submit(a, "echo", {"value": 4}, **LATER)
        assert (await a.post(f"/v1/jobs/{cancelled['id']}/cancel")).status_code == 200
        done = await wait_for_status(a, (await submit(a, "echo", {"value": 5}))["id"], "succeeded")
        node = {"key": "n", "engine": "general", "operation": "flaky", "params": FAILS_ONCE, "depends_on": []}
        workflow = await wait_for_workflow(a, (await submit_workflow(a, [node]))["id"], "failed")
        in_workflow = await node_job(a, workflow, "n")
        theirs = await wait_for_status(b, (await submit(b, "flaky", FAILS_ONCE))["id"], "failed")
        ids = [*(j["id"] for j in failed), cancelled["id"], done["id"], in_workflow["id"], theirs["id"]]

        # When they are retried in one call (with an unknown id)
        answer = await post(a, "retry", {"ids": [*ids, str(uuid.uuid4())]})

        # Then the failed and cancelled ones run again (attempts continuing) and succeed
        assert answer == {"retried": 3, "not_retryable": 2, "not_found": 2, "more": False}
        for job in failed:
            assert (await wait_for_status(a, job["id"], "succeeded"))["attempts"] == 2
        await wait_for_status(a, cancelled["id"], "succeeded")
        # And the workflow node and the other tenant's job are left failed
        assert (await get_job(a, in_workflow["id"]))["status"] == "failed"
        assert (await get_job(b, theirs["id"]))["status"] == "failed"

        # When a failed job is retried by filter
        again = await wait_for_status(a, (await submit(a, "flaky", FAILS_ONCE, tags=["again"]))["id"], "failed")
        by_filter = await post(a, "retry", {"filter": {"tag": ["again"], "operation": "flaky"}})

        # Then it runs again; a filter matching no failed or cancelled job retries nothing
        assert by_filter == {"retried": 1, "not_retryable": 0, "not_found": 0, "more": False}
        await wait_for_status(a, again["id"], "succeeded")
        assert (await post(a, "retry", {"filter": {"status": "succeeded"}}))["retried"] == 0


async def test_bulk_cancel_acts_on_at_most_10000_jobs_and_says_more(system: System) -> None:
    # Given 10,003 scheduled jobs of a tenant
    async with await member(system) as a:
        for start in range(0, 10_003, 1000):
            jobs = [
                {"engine": "general", "operation": "echo", "params": {"value": 0}, **LATER}
                for _ in range(min(1000, 10_003 - start))
            ]
            response = await a.post("/v1/jobs/batch", json={"jobs": jobs})
            assert response.status_code == 202, response.text[:500]

        # When they are cancelled by filter, twice
        first = await post(a, "cancel", {"filter": {"status": "scheduled"}})
        second = await post(a, "cancel", {"filter": {"status": "scheduled"}})

        # Then the first call cancels 10,000 and says more matched; the second cancels the rest
        assert (first["cancelled"], first["more"]) == (10_000, True)
        assert (second["cancelled"], second["more"]) == (3, False)
        # And more than 10,000 ids are refused, naming the field
        too_many = await a.post("/v1/jobs/retry", json={"ids": [str(uuid.uuid4()) for _ in range(10_001)]})
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "ids"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ids"),
        ({"ids": [str(uuid.uuid4())], "filter": {}}, "filter"),
        ({"ids": []}, "ids"),
        ({"ids": "all"}, "ids"),
        ({"ids": ["not-a-uuid"]}, "ids[0]"),
        ({"filter": {"status": "nope"}}, "filter.status"),
        ({"filter": {"status": ["queued", "nope"]}}, "filter.status[1]"),
        ({"filter": {"created_after": "yesterday"}}, "filter.created_after"),
        ({"filter": {"tag": "not a tag!"}}, "filter.tag"),
        ({"filter": {"engine": "gen\u0000eral"}}, "filter.engine"),
        ({"filter": {"colour": "red"}}, "filter.colour"),
        ({"filter": {}, "status": "failed"}, "status"),
    ],
)
async def test_bulk_bad_bodies_answer_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    # Given a malformed bulk body, When posted to either action, Then 422 names the field
    for action in ("cancel", "retry"):
        response = await client.post(f"/v1/jobs/{action}", json=body)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.text


async def test_bulk_routes_live_beside_the_single_job_routes(client: httpx.AsyncClient) -> None:
    # Given the bulk routes, When other methods or single-job routes are used, Then no clash
    assert (await client.get("/v1/jobs/cancel")).status_code in (404, 405)
    assert (await client.post("/v1/jobs/cancel", content=b"[1")).status_code == 400
    assert (await client.post(f"/v1/jobs/{uuid.uuid4()}/cancel")).status_code == 404
    assert (await client.post(f"/v1/jobs/{uuid.uuid4()}/retry")).status_code == 404
