"""The Python client against a running Conveyor: jobs, workflows, waits on the stream, errors."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from schemas.events import EventView
from schemas.jobs import JobSubmit
from services.client import AsyncClient, Client, ConveyorError, ConveyorUnreachable, WaitTimeout
from tests.support.system import System


@pytest.fixture
async def key(shared_system: System) -> str:
    """An API key (every scope) of a tenant of this test's own."""
    return await shared_system.api_key(f"client-{secrets.token_hex(4)}")


@pytest.fixture
def conveyor(shared_system: System, key: str) -> Iterator[Client]:
    """A sync client of the shared system."""
    with Client(shared_system.base_url, key) as client:
        yield client


def test_client_submit_then_wait_returns_the_finished_job(conveyor: Client) -> None:
    # Given a job submitted with options
    job = conveyor.submit("general", "echo", {"value": 17}, priority="high", tags=["client"])
    assert job.status in ("queued", "running", "succeeded") and job.priority == 7
    # When the client waits for it
    done = conveyor.wait(job.id, timeout=30)
    # Then it has its final view, as GET shows it, and its history
    assert done.status == "succeeded" and done.result == {"value": 17}
    assert conveyor.get_job(job.id).finished_at == done.finished_at
    assert [e.type for e in conveyor.job_events(job.id).items if e.type != "job.progress"] == [
        "job.queued",
        "job.started",
        "job.succeeded",
    ]
    assert [j.id for j in conveyor.list_jobs(tag=["client"]).items] == [job.id]


def test_client_wait_times_out_then_cancel_and_retry(conveyor: Client) -> None:
    # Given a job that sleeps far longer than the wait
    job = conveyor.submit("general", "sleep", {"seconds": 30})
    # When the client waits 0.5 s
    with pytest.raises(WaitTimeout):
        conveyor.wait(job.id, timeout=0.5)
    # Then cancelling it ends the wait with its cancelled view, and a retry queues it again
    conveyor.cancel_job(job.id)
    assert conveyor.wait(job.id, timeout=30).status == "cancelled"
    assert conveyor.retry_job(job.id).status == "queued"
    conveyor.cancel_job(job.id)
    assert conveyor.wait(job.id, timeout=30).status == "cancelled"


def test_client_errors_carry_the_api_error_body(shared_system: System, conveyor: Client) -> None:
    # When the API refuses a call, Then the exception holds its status, code and fields
    missing = uuid.uuid4()
    with pytest.raises(ConveyorError) as refused:
        conveyor.get_job(missing)
    assert (refused.value.status, refused.value.code) == (404, "job_not_found")
    assert str(missing) in refused.value.detail
    with pytest.raises(ConveyorError) as invalid:
        conveyor.submit("general", "sleep", {"seconds": "long"})
    assert invalid.value.status == 422
    assert [e.field for e in invalid.value.body.errors] == ["params.seconds"]
    assert invalid.value.line() == "422 invalid_job: params.seconds: Expected `float`, got `str`"
    # And a key that is not one is 401, an absent gateway ConveyorUnreachable
    with Client(shared_system.base_url, "cvk_nope") as stranger, pytest.raises(ConveyorError) as denied:
        stranger.list_jobs()
    assert denied.value.status == 401
    with Client("http://127.0.0.1:9", "cvk_nope") as nowhere, pytest.raises(ConveyorUnreachable):
        nowhere.list_jobs()


def test_client_workflow_submit_wait_and_show(conveyor: Client) -> None:
    # Given a two-node workflow
    workflow = conveyor.submit_workflow(
        {
            "name": "client",
            "nodes": [
                {"key": "a", "engine": "general", "operation": "echo", "params": {"value": 1}},
                {"key": "b", "engine": "general", "operation": "echo", "params": {"value": 2}, "depends_on": ["a"]},
            ],
        }
    )
    # When the client waits for it
    done = conveyor.wait_workflow(workflow.id, timeout=30)
    # Then it succeeded with both nodes, as GET shows it
    assert done.status == "succeeded"
    assert {node.key: node.status for node in conveyor.get_workflow(workflow.id).nodes} == {
        "a": "succeeded",
        "b": "succeeded",
    }
    with pytest.raises(ConveyorError) as finished:
        conveyor.cancel_workflow(workflow.id)
    assert finished.value.status == 409


async def test_async_client_batch_run_and_events(shared_system: System, key: str) -> None:
    async with AsyncClient(shared_system.base_url, key) as conveyor:
        # Given a batch of two jobs
        jobs = await conveyor.submit_batch(
            [JobSubmit(engine="general", operation="echo", params={"value": n}) for n in (1, 2)]
        )
        # When the client waits for each, and runs one more
        finished = [await conveyor.wait(job.id, timeout=30) for job in jobs]
        ran = await conveyor.run("general", "echo", {"value": 3}, timeout=30)
        # Then each has its result, and the stream replays a job's events from the log
        assert [job.result for job in finished] == [{"value": 1}, {"value": 2}]
        assert ran.status == "succeeded" and ran.result == {"value": 3}
        seen = []
        async for event in conveyor.events(job_id=ran.id, after=0, timeout=30):
            seen.append(event.type)
            if event.type == "job.succeeded":
                break
        assert seen == ["job.queued", "job.started", "job.succeeded"]


def drain(events: Iterator[EventView], types: list[str]) -> None:
    """Note each event's type, until the events end."""
    for event in events:
        types.append(event.type)


def test_client_sync_events_stop_at_their_timeout(conveyor: Client) -> None:
    # Given a job that finished
    job = conveyor.run("general", "echo", {"value": 5}, timeout=30)
    # When its events are followed for 1 s
    seen: list[str] = []
    with pytest.raises(WaitTimeout):
        drain(conveyor.events(job_id=job.id, after=0, timeout=1), seen)
    # Then every one came, then the wait ran out
    assert seen == ["job.queued", "job.started", "job.succeeded"]
