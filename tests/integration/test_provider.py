"""Generative operations through a provider: a real OpenAI-compatible server on loopback
(stdlib http.server, streaming SSE) that the worker calls over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.integration.conftest import MakeSystem
from tests.support.api import wait_for_status
from tests.support.system import System, eventually

KEY = "sk-conveyor-test-5f2d9c1e8a7b6043-secret"
WORDS = ["Solar ", "panels ", "are ", "cheaper ", "than ", "ever."]


@dataclass
class FakeProvider:
    """What the fake chat-completions server saw."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    limited_once: set[str] = field(default_factory=set)
    port: int = 0


def chunk(model: str, **fields: Any) -> bytes:
    return (
        b"data: "
        + json.dumps({"id": "c1", "object": "chat.completion.chunk", "model": model, **fields}).encode()
        + b"\n\n"
    )


def handler(seen: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body, "at": time.monotonic()}
            )
            prompt = body["messages"][-1]["content"]
            if "[401]" in prompt:
                masked = f"{KEY[:7]}****{KEY[-4:]}"
                return self.answer(401, {"error": {"message": f"Incorrect API key provided: {masked}."}})
            if "[429]" in prompt and prompt not in seen.limited_once:
                seen.limited_once.add(prompt)
                return self.answer(429, {"error": {"message": "Rate limit reached"}}, **{"Retry-After": "1"})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            model = body["model"] + "-2024-01-01"
            words = WORDS * 200 if "[slow]" in prompt else WORDS
            try:
                for word in words:
                    self.wfile.write(chunk(model, choices=[{"index": 0, "delta": {"content": word}}]))
                    self.wfile.flush()
                    time.sleep(0.2 if "[slow]" in prompt else 0.02)
                self.wfile.write(chunk(model, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
                if "[nousage]" not in prompt:
                    self.wfile.write(chunk(model, choices=[], usage={"prompt_tokens": 42, "completion_tokens": 6}))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                seen.disconnected.set()

    return Handler


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """An OpenAI-compatible server on 127.0.0.1 streaming a fixed answer."""
    seen = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(seen))
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield seen
    server.shutdown()
    server.server_close()


async def provider_system(make_system: MakeSystem, provider: FakeProvider) -> tuple[System, httpx.AsyncClient]:
    system = await make_system(
        llm_url=f"http://127.0.0.1:{provider.port}/v1",
        llm_model="fake-model",
        llm_api_key=KEY,
        llm_prices="fake-model=1.5/3",
        llm_timeout_seconds=5.0,
    )
    system.start_all(queues=("general", "text_intelligence", "creative_assistant"))
    return system, system.client(await system.api_key("acme"))


async def submit(client: httpx.AsyncClient, engine: str, operation: str, params: dict[str, Any]) -> str:
    accepted = await client.post("/v1/jobs", json={"engine": engine, "operation": operation, "params": params})
    assert accepted.status_code == 202, accepted.text
    job_id: str = accepted.json()["id"]
    return job_id


def no_key_in(system: System, *texts: str) -> None:
    logs = "".join(path.read_text(errors="replace") for path in system.workdir.glob("*.log"))
    for text in (logs, *texts):
        assert KEY not in text and KEY[-6:] not in text


async def test_a_streamed_generation_carries_usage_and_cost_and_sums_in_stats(
    make_system: MakeSystem, fake_provider: FakeProvider
) -> None:
    # Given a worker whose provider is the fake server
    system, client = await provider_system(make_system, fake_provider)
    async with client:
        # When a blog post is generated
        job_id = await submit(client, "text_intelligence", "generate", {"kind": "caption", "topic": "solar"})
        job = await wait_for_status(client, job_id, "succeeded", "failed", timeout=30)
        # Then the streamed text, the provider's usage and the cost at fake-model's price come back
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert result["text"] == "".join(WORDS) and result["provider"] == "openai-compatible"
        assert result["model"] == "fake-model-2024-01-01"
        assert result["usage"] == {"prompt_tokens": 42, "completion_tokens": 6, "total_tokens": 48, "estimated": False}
        assert result["cost"] == pytest.approx((42 * 1.5 + 6 * 3) / 1e6)
        sent = fake_provider.requests[-1]
        assert sent["path"] == "/v1/chat/completions" and sent["auth"] == f"Bearer {KEY}"
        assert sent["body"]["stream"] is True and sent["body"]["stream_options"] == {"include_usage": True}
        assert sent["body"]["model"] == "fake-model" and "solar" in sent["body"]["messages"][-1]["content"]

        # And a provider that sends no usage gets estimated tokens, said so
        ideas_id = await submit(client, "text_intelligence", "generate", {"kind": "caption", "topic": "[nousage] wind"})
        estimated = (await wait_for_status(client, ideas_id, "succeeded", "failed", timeout=30))["result"]
        assert estimated["usage"]["estimated"] is True and estimated["usage"]["completion_tokens"] >= 6

        # And /v1/stats sums the tokens and cost per operation
        async def summed() -> dict[str, Any] | None:
            stats = (await client.get("/v1/stats", params={"window": "1h", "group_by": "operation"})).json()
            found = [i for i in stats["items"] if i["group"] == "text_intelligence.generate"]
            return found[0] if found and found[0]["succeeded"] == 2 else None

        item = await eventually(summed, timeout=10, message="stats of both generations")
        assert item["prompt_tokens"] == 42 + estimated["usage"]["prompt_tokens"]
        assert item["completion_tokens"] == 6 + estimated["usage"]["completion_tokens"]
        assert item["cost"] == pytest.approx(result["cost"] + estimated["cost"])
        events = (await client.get(f"/v1/jobs/{job_id}/events")).text
        no_key_in(system, json.dumps(job), events)


async def test_a_refused_request_fails_at_once_without_the_key(
    make_system: MakeSystem, fake_provider: FakeProvider
) -> None:
    system, client = await provider_system(make_system, fake_provider)
    async with client:
        # Given the provider answers 401, echoing the key masked
        refused = await submit(client, "text_intelligence", "generate", {"kind": "caption", "topic": "[401] wind"})
        job = await wait_for_status(client, refused, "succeeded", "failed", timeout=30)
        # Then the job fails permanently on its first attempt, saying why, without the key
        assert job["status"] == "failed" and job["attempts"] == 1, job
        assert job["error"]["category"] == "permanent" and "401" in job["error"]["message"]
        assert "Incorrect API key" in job["error"]["message"]
        assert len(fake_provider.requests) == 1
        no_key_in(system, json.dumps(job), (await client.get(f"/v1/jobs/{refused}/events")).text)


async def test_a_rate_limited_generation_succeeds_on_its_retry(
    make_system: MakeSystem, fake_provider: FakeProvider
) -> None:
    _, client = await provider_system(make_system, fake_provider)
    async with client:
        # Given the provider answers 429 with Retry-After: 1 once, then streams
        job_id = await submit(client, "text_intelligence", "generate", {"kind": "caption", "topic": "[429] tides"})
        job = await wait_for_status(client, job_id, "succeeded", "failed", timeout=30)
        # Then the job succeeds on its second attempt, a second or more after the first
        assert job["status"] == "succeeded" and job["attempts"] == 2, job
        assert job["result"]["text"] == "".join(WORDS) and job["result"]["usage"]["prompt_tokens"] == 42
        first, second = fake_provider.requests
        assert second["at"] - first["at"] >= 0.9


async def test_cancelling_a_generation_closes_the_providers_connection(
    make_system: MakeSystem, fake_provider: FakeProvider
) -> None:
    system, client = await provider_system(make_system, fake_provider)
    async with client:
        # Given a generation streaming slowly, with progress moving as tokens arrive
        job_id = await submit(client, "text_intelligence", "generate", {"kind": "blog_post", "topic": "[slow] sun"})

        async def streaming() -> dict[str, Any] | None:
            job = (await client.get(f"/v1/jobs/{job_id}")).json()
            return job if job["status"] == "running" and job["progress"] > 0.05 else None

        running = await eventually(streaming, timeout=20, message="tokens arriving")
        assert "tokens" in running["progress_message"]
        # When it is cancelled
        assert (await client.post(f"/v1/jobs/{job_id}/cancel")).status_code == 202
        job = await wait_for_status(client, job_id, "cancelled", timeout=10)
        # Then the provider sees the client go away
        assert await eventually(lambda: _is_set(fake_provider.disconnected), timeout=5, message="the connection closed")
        assert job["error"]["category"] == "cancelled"
        no_key_in(system, json.dumps(job))


async def _is_set(event: threading.Event) -> bool:
    return event.is_set()


async def test_retry_on_chooses_which_provider_errors_are_retried(
    make_system: MakeSystem, fake_provider: FakeProvider
) -> None:
    _, client = await provider_system(make_system, fake_provider)
    async with client:
        # Given the provider answers 429 once to each prompt, then streams
        body = {"engine": "text_intelligence", "operation": "generate"}
        # When a job retried only on ProviderUnavailable is rate limited, Then it fails at once
        other = await client.post(
            "/v1/jobs",
            json={**body, "params": {"kind": "caption", "topic": "[429] reefs"}, "retry_on": ["ProviderUnavailable"]},
        )
        assert other.status_code == 202, other.text
        failed = await wait_for_status(client, other.json()["id"], "succeeded", "failed", timeout=30)
        assert failed["status"] == "failed" and failed["attempts"] == 1
        assert failed["error"]["type"] == "ProviderRateLimited" and failed["error"]["category"] == "transient"
        assert failed["retry_on"] == ["ProviderUnavailable"]
        # And a job retried on ProviderRateLimited succeeds on its second attempt
        named = await client.post(
            "/v1/jobs",
            json={**body, "params": {"kind": "caption", "topic": "[429] kelp"}, "retry_on": ["ProviderRateLimited"]},
        )
        done = await wait_for_status(client, named.json()["id"], "succeeded", "failed", timeout=30)
        assert done["status"] == "succeeded" and done["attempts"] == 2
