"""Jobs that wait for other jobs (`depends_on`), on real workers: order, data, failure, exactly once."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.system import System
from tests.support.workers import pid_of


def ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def started(history: list[dict[str, Any]]) -> int:
    return sum(1 for e in history if e["type"] == "job.started")


async def test_a_hundred_jobs_each_waiting_for_the_previous_run_in_order_once(client: httpx.AsyncClient) -> None:
    # Given 100 jobs submitted one by one, each depending on the one before and reading its result
    first = await submit(client, "echo", {"value": {"i": 0, "prev": None}})
    ids = [first["id"]]
    for i in range(1, 100):
        job = await submit(
            client, "echo", {"value": {"i": i, "prev": ref(f"{ids[-1]}.result.value.i")}}, depends_on=[ids[-1]]
        )
        assert job["status"] in {"waiting", "queued"} and job["depends_on"] == [ids[-1]]
        ids.append(job["id"])
    # When they run, Then each ran once, after the one it depends on, with that one's value
    last = await wait_for_status(client, ids[-1], "succeeded", timeout=90)
    assert last["result"] == {"value": {"i": 99, "prev": 98}}
    jobs = [await get_job(client, job_id) for job_id in ids]
    assert [job["status"] for job in jobs] == ["succeeded"] * 100
    assert all(job["attempts"] == 1 for job in jobs)
    for before, after in itertools.pairwise(jobs):
        assert at(after["started_at"]) >= at(before["finished_at"])
        assert after["params"] == {
            "value": {"i": after["result"]["value"]["i"], "prev": before["result"]["value"]["i"]}
        }
    for job_id in ids[::10]:
        assert started(await events(client, job_id)) == 1


async def test_a_waiting_job_shows_what_it_waits_for_and_its_dependency_lists_it(client: httpx.AsyncClient) -> None:
    # Given a job that runs for a while, and two jobs waiting for it (one also for a finished job)
    slow = await submit(client, "sleep", {"seconds": 30})
    done = await submit(client, "echo", {"value": 1})
    await wait_for_status(client, done["id"], "succeeded")
    first = await submit(client, "echo", {"value": 2}, depends_on=[slow["id"], done["id"]])
    second = await submit(client, "echo", {"value": 3}, depends_on=[slow["id"]], on_dependency_failure="run")
    # Then each is waiting, on the unfinished dependency only
    view = await get_job(client, first["id"])
    assert view["status"] == "waiting" and view["waiting_reason"] == "dependencies"
    assert view["depends_on"] == [slow["id"], done["id"]] and view["waiting_on"] == [slow["id"]]
    assert view["on_dependency_failure"] == "cancel"
    assert (await get_job(client, second["id"]))["on_dependency_failure"] == "run"
    # And the dependency lists both, oldest first, a page at a time
    page = (await client.get(f"/v1/jobs/{slow['id']}/dependents", params={"limit": 1})).json()
    assert [job["id"] for job in page["items"]] == [first["id"]] and page["next_cursor"]
    rest = (await client.get(f"/v1/jobs/{slow['id']}/dependents", params={"cursor": page["next_cursor"]})).json()
    assert [job["id"] for job in rest["items"]] == [second["id"]] and rest["next_cursor"] is None
    assert rest["items"][0]["waiting_on"] == [slow["id"]]
    assert (await client.get(f"/v1/jobs/{done['id']}/dependents")).json()["items"][0]["id"] == first["id"]
    # When the dependency is cancelled, Then the first is cancelled naming it, the second runs anyway
    assert (await client.post(f"/v1/jobs/{slow['id']}/cancel")).status_code == 202
    cancelled = await wait_for_status(client, first["id"], "cancelled")
    assert cancelled["error"]["type"] == "DependencyFailed" and slow["id"] in cancelled["error"]["message"]
    assert cancelled["attempts"] == 0 and cancelled["waiting_on"] is None
    assert (await wait_for_status(client, second["id"], "succeeded"))["result"] == {"value": 3}


async def test_a_finished_dependency_counts_at_once(client: httpx.AsyncClient) -> None:
    parent = await submit(client, "echo", {"value": {"word": "ready"}})
    await wait_for_status(client, parent["id"], "succeeded")
    # When a job is submitted depending on a job that already succeeded
    child = await submit(client, "echo", {"value": ref(f"{parent['id']}.result.value.word")}, depends_on=[parent["id"]])
    # Then it is queued at once, and runs with the value resolved
    assert child["status"] == "queued" and child["params"] == {"value": "ready"}
    assert (await wait_for_status(client, child["id"], "succeeded"))["result"] == {"value": "ready"}
    # And on a dependency that already failed it is cancelled at once
    bad = await submit(client, "flaky", {"fail_times": 1, "permanent": True})
    await wait_for_status(client, bad["id"], "failed")
    late = await submit(client, "echo", {"value": 1}, depends_on=[bad["id"]])
    assert late["status"] == "cancelled" and late["error"]["type"] == "DependencyFailed"


async def test_a_failed_dependency_cancels_dependents_down_a_chain_or_lets_them_run(client: httpx.AsyncClient) -> None:
    # Given a job that will fail permanently, a chain of three cancelling dependents below it,
    # and a dependent that runs anyway, reading the failed job's result
    bad = await submit(client, "flaky", {"fail_times": 1, "permanent": True}, delay_seconds=0.5)
    chain = [await submit(client, "echo", {"value": 0}, depends_on=[bad["id"]])]
    for i in range(1, 3):
        chain.append(await submit(client, "echo", {"value": i}, depends_on=[chain[-1]["id"]]))
    runs = await submit(client, "echo", {"value": "anyway"}, depends_on=[bad["id"]], on_dependency_failure="run")
    reads = await submit(
        client,
        "echo",
        {"value": ref(f"{bad['id']}.result.attempts")},
        depends_on=[bad["id"]],
        on_dependency_failure="run",
    )
    # When it fails
    await wait_for_status(client, bad["id"], "failed")
    # Then the chain is cancelled, each naming the job above it, none having run
    for above, job in zip([bad, *chain], chain, strict=False):
        view = await wait_for_status(client, job["id"], "cancelled")
        assert view["error"]["message"] == f"dependency {above['id']} " + ("failed" if above is bad else "cancelled")
        assert view["attempts"] == 0
    # And the one that runs anyway runs; the one reading the failed result fails on its input
    assert (await wait_for_status(client, runs["id"], "succeeded"))["result"] == {"value": "anyway"}
    failed = await wait_for_status(client, reads["id"], "failed")
    assert failed["error"]["type"] == "InputError" and "did not succeed" in failed["error"]["message"]
    assert failed["attempts"] == 0


async def test_a_dependency_retried_after_failure_does_not_run_its_dependents_again(
    client: httpx.AsyncClient,
) -> None:
    # Given a dependent that ran anyway after its dependency failed
    bad = await submit(client, "flaky", {"fail_times": 1, "permanent": True}, delay_seconds=0.3)
    dependent = await submit(client, "echo", {"value": 1}, depends_on=[bad["id"]], on_dependency_failure="run")
    await wait_for_status(client, bad["id"], "failed")
    await wait_for_status(client, dependent["id"], "succeeded")
    # When the dependency is retried and succeeds
    assert (await client.post(f"/v1/jobs/{bad['id']}/retry")).status_code == 202
    await wait_for_status(client, bad["id"], "succeeded")
    await asyncio.sleep(0.5)  # time for a wrong second release to show
    # Then the dependent ran once only
    view = await get_job(client, dependent["id"])
    assert view["attempts"] == 1 and started(await events(client, dependent["id"])) == 1


async def test_dependents_of_parents_finishing_together_are_queued_once_each(client: httpx.AsyncClient) -> None:
    # Given ten parents that finish at about the same moment, and two jobs waiting for all ten
    parents = (
        await client.post(
            "/v1/jobs/batch",
            json={"jobs": [{"engine": "general", "operation": "sleep", "params": {"seconds": 0.3}}] * 10},
        )
    ).json()["jobs"]
    ids = [job["id"] for job in parents]
    body = {"engine": "general", "operation": "echo", "depends_on": ids}
    response = await client.post("/v1/jobs/batch", json={"jobs": [{**body, "params": {"value": n}} for n in (1, 2)]})
    assert response.status_code == 202, response.text
    dependents = response.json()["jobs"]
    # Then each dependent is queued once and runs once
    for job in dependents:
        await wait_for_status(client, job["id"], "succeeded", timeout=30)
        history = await events(client, job["id"])
        assert sum(1 for e in history if e["to_status"] == "queued") == 1 and started(history) == 1


async def test_unknown_or_foreign_dependencies_are_refused_naming_the_field(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    mine = await submit(client, "echo", {"value": 1})
    async with shared_system.client(await shared_system.api_key("another-tenant")) as other:
        theirs = (
            await other.post("/v1/jobs", json={"engine": "general", "operation": "echo", "params": {"value": 1}})
        ).json()
    unknown = "0190d7a0-0000-7000-8000-000000000000"
    body = {"engine": "general", "operation": "echo", "params": {"value": 1}}
    # An unknown id and another tenant's id: 422 naming each, and nothing stored
    response = await client.post("/v1/jobs", json={**body, "depends_on": [mine["id"], unknown, theirs["id"]]})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["depends_on[1]", "depends_on[2]"]
    assert (await client.get(f"/v1/jobs/{mine['id']}/dependents")).json()["items"] == []
    # In a batch, the item is named
    response = await client.post("/v1/jobs/batch", json={"jobs": [body, {**body, "depends_on": [unknown]}]})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "jobs[1].depends_on[0]"
    # A repeated id, a reference to a job not depended on, a reference of the wrong shape
    cases = [
        ({"depends_on": [mine["id"], mine["id"]]}, "depends_on[1]"),
        ({"params": {"value": ref(f"{unknown}.result")}, "depends_on": [mine["id"]]}, "params"),
        ({"params": {"value": ref("upstream.result")}, "depends_on": [mine["id"]]}, "params"),
        ({"depends_on": ["not-a-uuid"]}, "depends_on[0]"),
        ({"on_dependency_failure": "ignore"}, "on_dependency_failure"),
    ]
    for fields, field in cases:
        response = await client.post("/v1/jobs", json={**body, **fields})
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["errors"][0]["field"] == field, response.text


async def test_a_dependency_killed_with_its_worker_releases_its_dependents_once(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given a dependency running on a worker, and three jobs waiting for it
    system = await make_system()
    system.start_supervised_all()
    async with system.client(await system.api_key("crash")) as http:
        parent = await submit(http, "sleep", {"seconds": 2})
        dependents = [
            await submit(http, "echo", {"value": ref(f"{parent['id']}.result.slept")}, depends_on=[parent["id"]])
            for _ in range(3)
        ]
        running = await wait_for_status(http, parent["id"], "running")
        # When its worker process is killed with SIGKILL mid-job
        os.kill(pid_of(running["worker_id"]), signal.SIGKILL)
        # Then the dependency is run again and succeeds once, and each dependent runs once after it
        done = await wait_for_status(http, parent["id"], "succeeded", timeout=60)
        assert done["attempts"] == 2
        for job in dependents:
            view = await wait_for_status(http, job["id"], "succeeded", timeout=30)
            assert view["result"] == {"value": 2.0} and at(view["started_at"]) >= at(done["finished_at"])
            history = await events(http, job["id"])
            assert sum(1 for e in history if e["to_status"] == "queued") == 1 and started(history) == 1


async def test_a_dependent_cancelled_by_its_dependency_runs_once_that_is_mended(client: httpx.AsyncClient) -> None:
    # Given a dependent reading a result, cancelled because its dependency failed
    bad = await submit(client, "flaky", {"fail_times": 1, "permanent": True}, delay_seconds=0.3)
    reader = await submit(client, "echo", {"value": ref(f"{bad['id']}.result.attempts")}, depends_on=[bad["id"]])
    await wait_for_status(client, reader["id"], "cancelled")
    # When it is retried first: 409, its input is still missing
    refused = await client.post(f"/v1/jobs/{reader['id']}/retry")
    assert refused.status_code == 409 and refused.json()["error"] == "dependency_not_succeeded"
    # Then once the dependency is retried and succeeds, the dependent can be retried and reads it
    assert (await client.post(f"/v1/jobs/{bad['id']}/retry")).status_code == 202
    await wait_for_status(client, bad["id"], "succeeded")
    assert (await client.post(f"/v1/jobs/{reader['id']}/retry")).status_code == 202
    done = await wait_for_status(client, reader["id"], "succeeded")
    assert done["result"] == {"value": 2} and done["params"] == {"value": 2}


async def test_the_inbox_says_a_dependent_waits_for_jobs(client: httpx.AsyncClient, shared_system: System) -> None:
    async with shared_system.client(await shared_system.api_key("inbox-dependents")) as own:
        created = await own.post("/v1/subscriptions", json={"channel": "inbox", "events": ["job.waiting"]})
        assert created.status_code == 201, created.text
        slow = await submit(own, "sleep", {"seconds": 30})
        await submit(own, "echo", {"value": 1}, depends_on=[slow["id"]])
        notices = (await own.get("/v1/notifications")).json()["items"]
        assert [n["body"] for n in notices] == ["general.echo waits for the jobs it depends on."]
        assert (await own.post(f"/v1/jobs/{slow['id']}/cancel")).status_code == 202
