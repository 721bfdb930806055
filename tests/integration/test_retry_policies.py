"""Retry policies by error (`retry_on`) on real workers: which errors are retried, and which fail at once."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

import httpx

from tests.support.api import submit, wait_for_status
from tests.support.system import System
from tests.support.workers import pid_of
from tests.support.workflows import node_job, submit_workflow, wait_for_workflow

FAST = {"retry_backoff_seconds": 0.05, "retry_backoff_max_seconds": 0.1}


async def test_a_transient_error_not_in_retry_on_fails_at_once(client: httpx.AsyncClient) -> None:
    # Given jobs failing transiently twice: one retried on timeouts only, one on TransientError
    only_timeouts = await submit(client, "flaky", {"fail_times": 2}, retry_on=["timeout"], **FAST)
    named = await submit(client, "flaky", {"fail_times": 2}, retry_on=["TransientError"], **FAST)
    default = await submit(client, "flaky", {"fail_times": 2}, **FAST)
    # Then the first fails on its first attempt, dead-lettered; the others succeed on their third
    failed = await wait_for_status(client, only_timeouts["id"], "failed")
    assert failed["attempts"] == 1 and failed["error"]["category"] == "transient"
    assert failed["retry_on"] == ["timeout"]
    for job in (named, default):
        done = await wait_for_status(client, job["id"], "succeeded")
        assert done["attempts"] == 3 and done["result"] == {"attempts": 3}
    assert default["retry_on"] is None


async def test_a_permanent_error_type_named_in_retry_on_is_retried(client: httpx.AsyncClient) -> None:
    job = await submit(client, "flaky", {"fail_times": 1, "permanent": True}, retry_on=["PermanentError"], **FAST)
    done = await wait_for_status(client, job["id"], "succeeded", "failed")
    assert (done["status"], done["attempts"]) == ("succeeded", 2)


async def test_a_timeout_is_retried_when_retry_on_lists_it(client: httpx.AsyncClient) -> None:
    # Given a job that always runs past its time limit, retried on timeouts twice
    job = await submit(
        client, "sleep", {"seconds": 30}, timeout_seconds=0.3, max_retries=2, retry_on=["timeout"], **FAST
    )
    # Then it runs three times, each cut off, and fails with category timeout
    done = await wait_for_status(client, job["id"], "failed", timeout=30)
    assert done["attempts"] == 3 and done["error"]["category"] == "timeout"
    # And without timeout in retry_on a timeout fails at once, as before
    once = await submit(client, "sleep", {"seconds": 30}, timeout_seconds=0.3, **FAST)
    assert (await wait_for_status(client, once["id"], "failed", timeout=30))["attempts"] == 1


async def test_retry_on_entries_are_checked_against_the_operation(client: httpx.AsyncClient) -> None:
    body = {"engine": "general", "operation": "flaky", "params": {}}
    cases = [
        (["transient", "ProviderRateLimited"], "retry_on[1]", "error type of general.flaky"),
        (["permanent"], "retry_on[0]", "never retried as a whole"),
        (["not a name"], "retry_on[0]", ""),
        ([], "retry_on", ""),
    ]
    for retry_on, field, words in cases:
        response = await client.post("/v1/jobs", json={**body, "retry_on": retry_on})
        assert response.status_code == 422, response.text
        error = response.json()["errors"][0]
        assert error["field"] == field and words in error["message"], error
    # A provider-backed operation may name the provider's errors
    generate = {"engine": "text_intelligence", "operation": "generate", "params": {"kind": "caption", "topic": "x"}}
    accepted = await client.post("/v1/jobs", json={**generate, "retry_on": ["ProviderRateLimited", "timeout"]})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["retry_on"] == ["ProviderRateLimited", "timeout"]


async def test_the_engines_list_the_error_types_of_each_operation(client: httpx.AsyncClient) -> None:
    engines = {e["name"]: e for e in (await client.get("/v1/engines")).json()["engines"]}
    ops = {op["name"]: op for op in engines["text_intelligence"]["operations"]}
    errors = {e["type"]: e["category"] for e in ops["generate"]["errors"]}
    assert errors["ProviderRateLimited"] == "transient" and errors["ProviderRejected"] == "permanent"
    assert errors["JobTimedOut"] == "timeout" and errors["WorkerLost"] == "worker_lost"
    summarize = {e["type"] for e in ops["summarize"]["errors"]}
    assert summarize == {"TransientError", "PermanentError", "JobTimedOut", "WorkerLost"}
    video = {op["name"]: op for op in engines["video_pipeline"]["operations"]}
    assert "FfmpegError" in {e["type"] for e in video["slideshow"]["errors"]}
    assert all(e["description"] for e in ops["generate"]["errors"])


async def test_a_job_not_retried_on_worker_lost_fails_when_its_worker_dies(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given two running jobs: one retried on transient errors only, one with the default policy
    system = await make_system()
    system.start_supervised_all()
    async with system.client(await system.api_key("lost")) as http:
        strict = await submit(http, "sleep", {"seconds": 3}, retry_on=["transient"])
        default = await submit(http, "sleep", {"seconds": 3})
        running = await wait_for_status(http, strict["id"], "running")
        await wait_for_status(http, default["id"], "running")
        # When their worker process is killed with SIGKILL
        os.kill(pid_of(running["worker_id"]), signal.SIGKILL)
        # Then the strict one fails with worker_lost, and the default one is taken over and succeeds
        failed = await wait_for_status(http, strict["id"], "failed", "succeeded", timeout=60)
        assert failed["status"] == "failed" and failed["error"]["category"] == "worker_lost", failed
        assert "retry_on does not list worker_lost" in failed["error"]["message"]
        assert (await wait_for_status(http, default["id"], "succeeded", timeout=60))["attempts"] == 2


async def test_a_workflow_nodes_retry_on_holds_for_its_job_and_its_item_jobs(client: httpx.AsyncClient) -> None:
    # Given a node failing transiently once, retried on timeouts only, and a for_each node whose
    # items fail transiently once, retried on TransientError
    flaky = {"engine": "general", "operation": "flaky", **FAST}
    nodes = [
        {"key": "strict", **flaky, "params": {"fail_times": 1}, "retry_on": ["timeout"]},
        {"key": "list", "engine": "general", "operation": "echo", "params": {"value": [1, 1]}},
        {
            "key": "each",
            **flaky,
            "depends_on": ["list"],
            "for_each": "list.result.value",
            "params": {"fail_times": {"$ref": "$item"}},
            "retry_on": ["TransientError"],
        },
    ]
    workflow = await submit_workflow(client, nodes, on_failure="continue")
    done = await wait_for_workflow(client, workflow["id"], "failed", "succeeded", timeout=30)
    # Then the strict node failed on its first attempt, and each item succeeded on its second
    strict = await node_job(client, done, "strict")
    assert strict["status"] == "failed" and strict["attempts"] == 1 and strict["retry_on"] == ["timeout"]
    items = (await client.get("/v1/jobs", params={"workflow_id": workflow["id"], "node_key": "each"})).json()["items"]
    assert [(j["status"], j["attempts"], j["retry_on"]) for j in items] == [("succeeded", 2, ["TransientError"])] * 2
