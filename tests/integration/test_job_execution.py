"""Jobs run on real workers: results, progress, retries, dead letters, timeouts, cancellation."""

from __future__ import annotations

import time

import httpx

from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.system import System, eventually


async def test_echo_returns_the_value_given(client: httpx.AsyncClient) -> None:
    # Given a nested value, When echoed, Then the result holds the same value
    value = {"text": "héllo", "list": [1, 2.5, None, True], "nested": {"k": ["v"]}}
    job = await submit(client, "echo", {"value": value})
    done = await wait_for_status(client, job["id"], "succeeded")
    assert done["result"] == {"value": value}
    assert done["attempts"] == 1 and done["progress"] == 1.0
    assert done["started_at"] is not None and done["finished_at"] >= done["started_at"]


async def test_sleep_reports_progress_while_running(client: httpx.AsyncClient) -> None:
    # Given a sleep of 2.1 s (its progress steps are fractions like 0.238095…)
    job = await submit(client, "sleep", {"seconds": 2.1})
    await wait_for_status(client, job["id"], "running")

    async def midway() -> dict | None:
        seen = await get_job(client, job["id"])
        return seen if 0.0 < seen["progress"] < 1.0 and seen["progress_message"] else None

    # Then, while running, progress shows its message and a tenth of a percent at most
    seen = await eventually(midway, timeout=5, message="progress between 0 and 1")
    assert seen["status"] == "running" and "slept" in seen["progress_message"]
    assert seen["progress"] == round(seen["progress"], 3), seen["progress"]
    # And on success the bar is full and the message no longer says how far it had got
    done = await wait_for_status(client, job["id"], "succeeded")
    assert done["result"] == {"slept": 2.1}
    assert (done["progress"], done["progress_message"]) == (1.0, "done")


async def test_transient_failures_are_retried_until_success(client: httpx.AsyncClient) -> None:
    # Given a job failing its first two attempts transiently, with short backoff
    job = await submit(client, "flaky", {"fail_times": 2}, retry_backoff_seconds=0.1, retry_backoff_max_seconds=0.5)
    done = await wait_for_status(client, job["id"], "succeeded")
    # Then it succeeded on the third attempt, and its history shows the retries
    assert done["result"] == {"attempts": 3} and done["attempts"] == 3
    history = [e["type"] for e in await events(client, job["id"]) if e["type"] != "job.progress"]
    assert history.count("job.retrying") == 2
    assert history[-2:] == ["job.started", "job.succeeded"]


async def test_permanent_failure_fails_at_once_and_is_dead_lettered(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    job = await submit(client, "flaky", {"fail_times": 1, "permanent": True})
    done = await wait_for_status(client, job["id"], "failed")
    assert done["attempts"] == 1
    assert done["error"] == {
        "type": "PermanentError",
        "message": "attempt 1 fails permanently, as asked",
        "category": "permanent",
    }
    await eventually(lambda: _in_dead_letters(shared_system, job["id"]), timeout=5, message="the message in general.XQ")


async def test_exhausted_retries_fail_with_the_last_error(client: httpx.AsyncClient, shared_system: System) -> None:
    job = await submit(
        client, "flaky", {"fail_times": 10}, max_retries=2, retry_backoff_seconds=0.05, retry_backoff_max_seconds=0.1
    )
    done = await wait_for_status(client, job["id"], "failed")
    assert done["attempts"] == 3
    assert done["error"]["category"] == "transient" and done["error"]["type"] == "TransientError"
    await eventually(lambda: _in_dead_letters(shared_system, job["id"]), timeout=5, message="the message in general.XQ")


async def test_job_past_its_timeout_is_stopped_and_fails(client: httpx.AsyncClient) -> None:
    job = await submit(client, "sleep", {"seconds": 30}, timeout_seconds=1)
    started = time.monotonic()
    done = await wait_for_status(client, job["id"], "failed", timeout=10)
    assert time.monotonic() - started < 8
    assert done["error"]["category"] == "timeout" and done["attempts"] == 1


async def test_running_job_cancelled_stops_within_two_seconds(client: httpx.AsyncClient) -> None:
    job = await submit(client, "sleep", {"seconds": 60})
    await wait_for_status(client, job["id"], "running")
    # When cancelled while running
    asked = time.monotonic()
    response = await client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 202 and response.json()["cancel_requested_at"] is not None
    # Then it ends cancelled within 2 seconds
    done = await wait_for_status(client, job["id"], "cancelled", timeout=5)
    assert time.monotonic() - asked < 2.0
    assert done["error"]["category"] == "cancelled" and done["finished_at"] is not None


async def test_finished_job_cannot_be_cancelled(client: httpx.AsyncClient) -> None:
    job = await submit(client, "echo", {"value": 1})
    await wait_for_status(client, job["id"], "succeeded")
    response = await client.post(f"/v1/jobs/{job['id']}/cancel")
    assert response.status_code == 409 and response.json()["error"] == "job_finished"


async def test_failed_job_retried_runs_again_and_attempts_continue(client: httpx.AsyncClient) -> None:
    # Given a job that failed permanently on attempt 1
    job = await submit(client, "flaky", {"fail_times": 1, "permanent": True})
    await wait_for_status(client, job["id"], "failed")
    # When retried
    response = await client.post(f"/v1/jobs/{job['id']}/retry")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    # Then it runs as attempt 2 and succeeds
    done = await wait_for_status(client, job["id"], "succeeded")
    assert done["result"] == {"attempts": 2} and done["attempts"] == 2 and done["error"] is None


async def test_cancelled_job_can_be_retried_but_a_succeeded_one_cannot(client: httpx.AsyncClient) -> None:
    job = await submit(client, "sleep", {"seconds": 60})
    await wait_for_status(client, job["id"], "running")
    await client.post(f"/v1/jobs/{job['id']}/cancel")
    await wait_for_status(client, job["id"], "cancelled")
    assert (await client.post(f"/v1/jobs/{job['id']}/retry")).status_code == 202
    await wait_for_status(client, job["id"], "running")
    await client.post(f"/v1/jobs/{job['id']}/cancel")
    await wait_for_status(client, job["id"], "cancelled")

    done = await submit(client, "echo", {"value": 1})
    await wait_for_status(client, done["id"], "succeeded")
    response = await client.post(f"/v1/jobs/{done['id']}/retry")
    assert response.status_code == 409 and response.json()["error"] == "job_not_retryable"


async def _in_dead_letters(system: System, job_id: str) -> bool:
    return job_id in system.dead_letters("general")


async def test_queued_job_cancelled_never_starts(make_system) -> None:  # type: ignore[no-untyped-def]
    # Given a system whose worker is not running yet
    system: System = await make_system()
    system.start_gateway()
    async with system.client(await system.api_key("cancel-queued")) as http:
        job = await submit(http, "echo", {"value": 1})
        # When the queued job is cancelled
        response = await http.post(f"/v1/jobs/{job['id']}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        # Then, once a worker consumes the queue, it skips the job's message
        system.start_worker(queues=["general"])
        later = await submit(http, "echo", {"value": 2})
        await wait_for_status(http, later["id"], "succeeded")
        cancelled = await get_job(http, job["id"])
        assert cancelled["status"] == "cancelled" and cancelled["started_at"] is None and cancelled["attempts"] == 0
        assert all(e["to_status"] != "running" for e in await events(http, job["id"]))
    assert system.queue_depth("general") == 0
