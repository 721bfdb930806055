"""Generative text from an OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
llama.cpp's server), streamed: progress moves with the tokens, and cancellation or a time
limit closes the connection at once.

The request runs on a helper thread that hands the response's lines to the operation's thread
through a queue; the operation's thread waits on the queue a tenth of a second at a time, so it
stays a cancellation point (and takes the worker's interrupts) however long the provider is
silent, and reports progress at least every second. Stopping shuts the connection's socket
down, which the provider sees as the client going away.

Errors map onto the job taxonomy (actors.provider_errors): 429 is ProviderRateLimited (retried
after its Retry-After); 408, 5xx and broken connections ProviderUnavailable; no answer in time
ProviderTimeout, all transient; other 4xx (400, 401, 403, 404, 422) ProviderRejected, permanent. The API
key is sent as a bearer token and never appears in a message, a log line or a result.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from actors.provider_errors import (
    AnswerTruncated,
    ProviderBadAnswer,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from actors.sdk import JobContext
from schemas.generation import Prices, Usage, cost_of, estimate_tokens, price_of

#: How long the operation's thread waits for a line before looking for cancellation again.
TICK = 0.1
#: How often progress is reported while nothing arrives.
PROGRESS_EVERY = 1.0
#: The longest provider error text kept in a job's error.
MAX_PROVIDER_MESSAGE = 300
#: The longest Retry-After honoured (seconds).
MAX_RETRY_AFTER = 3600.0

Message = dict[str, str]


@dataclass(frozen=True)
class Provider:
    """Where generative text comes from (CONVEYOR_LLM_*)."""

    url: str
    model: str
    prices: Prices
    timeout: float
    api_key: str = ""

    def __repr__(self) -> str:
        return f"Provider(url={self.url!r}, model={self.model!r})"  # never the key

    @property
    def endpoint(self) -> str:
        """The chat-completions URL."""
        return self.url.rstrip("/") + "/chat/completions"


@dataclass(frozen=True)
class Completion:
    """What the provider wrote, and what it took."""

    text: str
    model: str
    usage: Usage
    cost: float | None
    #: Why it stopped: "stop", "length" (max_tokens reached), … (None if it did not say).
    finish_reason: str | None


def generation(done: Completion) -> dict[str, Any]:
    """The fields every generative result starts with, for what a provider wrote."""
    return {"provider": "openai-compatible", "model": done.model, "usage": done.usage, "cost": done.cost}


def provider_of(ctx: JobContext) -> Provider | None:
    """The worker's configured provider, or None: the local composer writes (also when the
    operation runs outside a worker)."""
    if ctx.services is None or not ctx.settings.llm_url:
        return None
    s = ctx.settings
    return Provider(s.llm_url, s.llm_model, s.llm_price_table(), s.llm_timeout_seconds, s.llm_api_key)


def complete(
    ctx: JobContext,
    provider: Provider,
    messages: list[Message],
    *,
    max_tokens: int,
    temperature: float = 0.7,
    label: str = "writing",
) -> Completion:
    """Stream one chat completion, reporting progress against `max_tokens`."""
    body = {
        "model": provider.model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    ctx.logger.info("llm_request", host=httpx.URL(provider.url).host, model=provider.model, max_tokens=max_tokens)
    exchange = Exchange(provider, body)
    exchange.start()
    reader = StreamReader()
    try:
        for data in exchange.events(ctx, lambda: reader.report(ctx, max_tokens, label)):
            reader.take(data, provider.api_key)
            reader.report(ctx, max_tokens, label)
    finally:
        exchange.close()
    return reader.completion(provider, messages)


class StreamReader:
    """Gathers a streamed completion from its SSE `data:` payloads."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.chunks = 0
        self.model: str | None = None
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self._reported = 0.0

    def take(self, data: str, key: str = "") -> None:
        """One event's data (a JSON chunk; `[DONE]` is left out by the caller)."""
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise ProviderBadAnswer(f"the provider sent a stream event that is not JSON: {data[:80]!r}") from None
        if not isinstance(chunk, dict):
            return
        if "error" in chunk:
            raise ProviderUnavailable(f"the provider failed mid-stream: {provider_message(chunk, key)}")
        self.model = chunk.get("model") or self.model
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str) and delta["content"]:
                self.pieces.append(delta["content"])
                self.chunks += 1
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    @property
    def completion_tokens(self) -> int:
        """Tokens written so far, as well as can be told before the usage arrives."""
        return max(self.chunks, estimate_tokens("".join(self.pieces)))

    def report(self, ctx: JobContext, max_tokens: int, label: str) -> None:
        """Progress against max_tokens (each call; the worker throttles what it writes)."""
        now = time.monotonic()
        if self.chunks and now - self._reported < 0.1:
            return
        self._reported = now
        tokens = self.completion_tokens
        fraction = 0.05 + 0.9 * min(1.0, tokens / max(max_tokens, 1))
        ctx.progress(fraction, f"{label}: {tokens} tokens" if tokens else f"{label}: waiting for the first token")

    def completion(self, provider: Provider, messages: list[Message]) -> Completion:
        """The whole completion, with its usage (the provider's, or estimated) and cost."""
        text = "".join(self.pieces)
        usage = usage_of(self.usage) or Usage(
            prompt_tokens=sum(estimate_tokens(m["content"]) + 4 for m in messages),
            completion_tokens=self.completion_tokens,
            total_tokens=0,
            estimated=True,
        )
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        model = self.model or provider.model
        return Completion(text, model, usage, cost_of(usage, price_of(provider.prices, provider.model, model)),
                          self.finish_reason)  # fmt: skip


def usage_of(reported: dict[str, Any] | None) -> Usage | None:
    """The provider's usage, if it sent a usable one."""
    if reported is None:
        return None
    prompt, completion = reported.get("prompt_tokens"), reported.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


class SseDecoder:
    """Server-Sent Events from lines: an event's `data:` lines, joined, when a blank line ends it."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Take one line; the data of the event it ends, if any."""
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None

    def flush(self) -> str | None:
        """The data of an event the stream ended without a blank line after."""
        data, self._data = self._data, []
        return "\n".join(data) if data else None


class Exchange:
    """One streamed request, run on a helper thread; its lines arrive through a queue."""

    def __init__(self, provider: Provider, body: dict[str, Any]) -> None:
        self.provider, self.body = provider, body
        self.lines: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="conveyor-llm", daemon=True)

    def start(self) -> None:
        """Send the request."""
        self._thread.start()

    def events(self, ctx: JobContext, waiting: Any) -> Any:
        """The data of each SSE event, until `[DONE]` or the end; raises the provider's errors
        as TransientError or PermanentError, and JobCancelled when the job is cancelled."""
        decoder, last = SseDecoder(), time.monotonic()
        while True:
            try:
                kind, value = self.lines.get(timeout=TICK)
            except queue.Empty:
                ctx.raise_if_cancelled()
                if time.monotonic() - last >= PROGRESS_EVERY:
                    waiting()
                    last = time.monotonic()
                continue
            ctx.raise_if_cancelled()
            if kind == "error":
                raise error_of(value, self.provider)
            data = decoder.feed(value) if kind == "line" else decoder.flush()
            if data is not None and data.strip() != "[DONE]":
                last = time.monotonic()
                yield data
            if kind == "end" or (data is not None and data.strip() == "[DONE]"):
                return

    def close(self) -> None:
        """Stop: shut the connection down (the provider sees the client leave)."""
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            sock = info["return_value"].get_extra_info("socket")
            with self._lock:
                if sock is not None:
                    self._sockets.append(sock)
                closed = self._closed
            if closed:
                self.close()

    def _run(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.provider.api_key:
            headers["Authorization"] = f"Bearer {self.provider.api_key}"
        try:
            with (
                httpx.Client(timeout=self.provider.timeout) as client,
                client.stream(
                    "POST", self.provider.endpoint, json=self.body, headers=headers, extensions={"trace": self._trace}
                ) as response,
            ):
                if response.status_code >= 400:
                    response.read()
                    self.lines.put(("error", response))
                    return
                for line in response.iter_lines():
                    if self._closed:
                        return
                    self.lines.put(("line", line))
            self.lines.put(("end", None))
        except Exception as exc:  # handed over: the operation's thread decides
            self.lines.put(("error", exc))


def error_of(failure: httpx.Response | BaseException, provider: Provider) -> Exception:
    """The job error for a failed exchange: an error status, or what the connection raised."""
    if isinstance(failure, httpx.Response):
        return status_error(failure, provider.api_key)
    if isinstance(failure, httpx.TimeoutException):
        return ProviderTimeout(f"the provider did not answer within {provider.timeout:g} s")
    if isinstance(failure, httpx.ConnectError):
        return ProviderUnavailable(f"cannot reach the provider at {httpx.URL(provider.url).host}")
    if isinstance(failure, httpx.HTTPError | OSError):
        return ProviderUnavailable(f"the connection to the provider broke: {type(failure).__name__}")
    return failure if isinstance(failure, Exception) else RuntimeError(str(failure))


def status_error(response: httpx.Response, key: str) -> Exception:
    """429, 408 and 5xx are transient (429 after its Retry-After); other statuses permanent."""
    status = response.status_code
    try:
        said = provider_message(response.json(), key)
    except (json.JSONDecodeError, UnicodeDecodeError):
        said = redact(response.text.strip(), key)[:MAX_PROVIDER_MESSAGE]
    message = f"the provider answered {status}" + (f": {said}" if said else "")
    if status == 429:
        return ProviderRateLimited(message, retry_in=retry_after(response.headers.get("retry-after")))
    if status == 408 or status >= 500:
        return ProviderUnavailable(message)
    return ProviderRejected(message)


def provider_message(body: Any, key: str) -> str:
    """The error message of a provider's JSON body (`{"error": {"message": …}}` and the like),
    short and without the key."""
    found: Any = body
    if isinstance(found, dict):
        found = found.get("error", found.get("detail", found.get("message", "")))
    if isinstance(found, dict):
        found = found.get("message", "")
    return redact(str(found), key)[:MAX_PROVIDER_MESSAGE]


def redact(text: str, key: str) -> str:
    """`text` with the key, and any word holding its start or end (a masked echo such as
    `sk-ab…yz`), replaced by ***."""
    if not key:
        return text
    text = text.replace(key, "***")
    if len(key) < 8:
        return text
    head, tail = key[:6], key[-4:]
    return " ".join("***" if head in word or tail in word else word for word in text.split(" "))


def retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (a number or an HTTP date), capped; None if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def json_answer(completion: Completion) -> Any:
    """The JSON value a completion was asked to answer with (code fences and prose around it
    ignored)."""
    text = completion.text.strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if starts:
        start = min(starts)
        end = text.rfind("}" if text[start] == "{" else "]")
        try:
            return json.loads(text[start : end + 1])
        except json.JSONDecodeError:
            pass
    if completion.finish_reason == "length":
        raise AnswerTruncated("the model's answer was cut off at its token limit before the JSON asked for ended")
    raise ProviderBadAnswer("the model did not answer with the JSON asked for")
