"""The client's request/response layer without a network: bodies, queries, errors, the stream."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import msgspec
import pytest

from schemas.jobs import JobSubmit, Notify
from schemas.workflows import WorkflowSubmit
from services.client import AsyncClient, Client, ConveyorError, WaitTimeout
from services.client.calls import query, sent
from services.client.errors import error_from
from services.client.streams import Follow, SseDecoder

JOB_ID = uuid.UUID("01a23af9-0000-7000-8000-000000000001")


def job(status: str) -> dict[str, object]:
    """A job's view as the gateway sends it."""
    return {
        "id": str(JOB_ID), "engine": "general", "operation": "echo", "status": status, "priority": 5, "params": {},
        "progress": 1.0 if status == "succeeded" else 0.0, "progress_message": None, "result": {"value": 1},
        "error": None, "attempts": 1, "max_retries": 3, "retry_backoff_seconds": 2.0,
        "retry_backoff_max_seconds": 300.0, "timeout_seconds": 60.0, "tags": [], "metadata": {},
        "idempotency_key": None, "run_at": None, "cancel_requested_at": None,
        "created_at": "2026-12-03T08:00:00Z", "started_at": None, "finished_at": None,
    }  # fmt: skip


def event(event_id: int, kind: str) -> str:
    """One SSE message of a job event."""
    data = {"id": event_id, "type": kind, "job_id": str(JOB_ID), "workflow_id": None, "tags": [],
            "data": {"status": kind.split(".")[1]}, "created_at": "2026-12-03T08:00:00Z"}  # fmt: skip
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"


def test_sent_leaves_out_fields_at_their_defaults() -> None:
    # Given a job with a few fields set, one nested
    submit = JobSubmit(engine="general", operation="echo", params={"value": 1}, notify=Notify(inbox=True))
    # When its body is made, Then only what was set is sent (a template's fields stay the template's)
    assert sent(submit) == {"engine": "general", "operation": "echo", "params": {"value": 1}, "notify": {"inbox": True}}
    flow = msgspec.convert(
        {"name": "w", "nodes": [{"key": "a", "engine": "general", "operation": "echo"}]}, WorkflowSubmit
    )
    assert sent(flow) == {"name": "w", "nodes": [{"key": "a", "engine": "general", "operation": "echo"}]}


def test_query_drops_nothing_given_and_repeats_lists() -> None:
    at = datetime(2026, 12, 3, tzinfo=UTC)
    given = {"status": ["failed", "cancelled"], "tag": [], "engine": None, "after": at, "job_id": JOB_ID, "more": True}
    assert query(given) == {
        "status": ["failed", "cancelled"],
        "after": "2026-12-03T00:00:00+00:00",
        "job_id": str(JOB_ID),
        "more": "true",
    }


def test_error_from_keeps_the_api_body_or_the_text_of_another() -> None:
    body = {
        "error": "invalid_job",
        "detail": "params.seconds: bad",
        "errors": [{"field": "params.seconds", "message": "bad"}],
    }
    api = error_from(httpx.Response(422, json=body))
    assert (api.status, api.code, api.body.errors[0].field, api.line()) == (
        422,
        "invalid_job",
        "params.seconds",
        "422 invalid_job: params.seconds: bad",
    )
    other = error_from(httpx.Response(502, text="<html>bad gateway</html>\nmore"))
    assert (other.status, other.code, other.detail) == (502, "bad_gateway", "<html>bad gateway</html>")


def test_sse_decoder_yields_each_message_data_once() -> None:
    decoder = SseDecoder()
    lines = [": keepalive", "", *event(7, "job.started").splitlines(), ""]
    events = [e for e in (decoder.feed(line) for line in lines) if e is not None]
    assert [(e.id, e.type, e.job_id) for e in events] == [(7, "job.started", JOB_ID)]


def test_follow_resumes_after_the_last_event_and_keeps_its_deadline() -> None:
    # Given a reader that saw event 7
    follow = Follow.of(job_id=JOB_ID, type=["job.*"], after=0, timeout=30)
    for line in [*event(7, "job.started").splitlines(), ""]:
        follow.line(line)
    # When the stream is reopened, Then it asks for what came after 7, with the same filters
    request = follow.request(httpx.Client(base_url="http://gateway"))
    assert dict(request.url.params.multi_items()) == {"job_id": str(JOB_ID), "type": "job.*", "after": "7"}
    # And a reader whose time is up refuses to go on
    late = Follow.of(timeout=0)
    with pytest.raises(WaitTimeout):
        late.check()


def gateway(statuses: list[str], requests: list[httpx.Request]) -> httpx.MockTransport:
    """A stand-in gateway: GET job answers the next status; the stream sends one event then closes."""

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/v1/events/stream":
            return httpx.Response(
                200, text=event(len(requests), "job.succeeded"), headers={"content-type": "text/event-stream"}
            )
        if request.url.path == f"/v1/jobs/{JOB_ID}":
            return httpx.Response(200, json=job(statuses.pop(0)))
        return httpx.Response(404, json={"error": "job_not_found", "detail": "no job"})

    return httpx.MockTransport(handle)


def test_client_wait_reads_the_job_again_on_each_end_event() -> None:
    # Given a job that is running, then whose first end event is an old one, then succeeded
    requests: list[httpx.Request] = []
    with Client("http://gateway", "cvk_x", transport=gateway(["running", "running", "succeeded"], requests)) as client:
        # When the client waits for it
        done = client.wait(JOB_ID, timeout=5)
        # Then it returns the succeeded view, having reopened the stream after the event it saw
        assert done.status == "succeeded"
        streams = [r for r in requests if r.url.path == "/v1/events/stream"]
        assert [r.url.params["after"] for r in streams] == ["0", "2"]
        assert requests[0].headers["authorization"] == "Bearer cvk_x"
        with pytest.raises(ConveyorError) as missing:
            client.get_job(uuid.uuid4())
        assert missing.value.status == 404


async def test_async_client_has_the_same_methods_awaited() -> None:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(202, json=job("queued"))

    async with AsyncClient("http://gateway", "cvk_x", transport=httpx.MockTransport(handle)) as client:
        submitted = await client.submit("general", "echo", {"value": 1}, priority="high", idempotency_key="k")
    assert submitted.status == "queued"
    assert requests[0].headers["idempotency-key"] == "k"
    assert json.loads(requests[0].content) == {
        "engine": "general",
        "operation": "echo",
        "params": {"value": 1},
        "priority": "high",
    }
