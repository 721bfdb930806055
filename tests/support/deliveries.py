"""Real receivers on loopback for delivery tests: a webhook receiver (HTTP) and its helpers.

`Receiver` is a threaded http.server that records every request and answers from a script
(one answer per request, the last repeated), optionally holding a request until released.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg

from infra.local.net import free_port
from infra.webhooks import new_secret
from tests.support.system import eventually


@dataclass(frozen=True)
class Received:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """What a receiver answers."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Hold the request (no answer) until `Receiver.release()`.
    hold: bool = False


class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers per path from a script."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Received] = []
        self.scripts: dict[str, list[Reply]] = {}
        self.released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                reply = receiver._take(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if reply.hold:
                    receiver.released.wait(60)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """The URL of a path on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, replies: Sequence[Reply]) -> str:
        """Answer requests to `path` with `replies` in turn (the last one repeated); its URL."""
        self.scripts[path] = list(replies)
        return self.url(path)

    def _take(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            replies = self.scripts.get(request.path) or [Reply()]
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def seen(self, path: str) -> list[Received]:
        """The requests to a path so far."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def release(self) -> None:
        """Answer the held requests."""
        self.released.set()

    def close(self) -> None:
        """Stop serving."""
        self.release()
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: float = 300) -> bool:
    """Standard Webhooks verification, written from the specification: the key is the base64
    after `whsec_`; the signed content `{id}.{timestamp}.{body}`; any `v1,` signature of the
    space-separated list may match (compared in constant time); the timestamp must be recent."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


async def add_subscription(
    db: asyncpg.Pool,
    tenant: str,
    *,
    url: str | None = None,
    address: str | None = None,
    events: Sequence[str] = ("job.succeeded",),
    description: str = "",
) -> tuple[uuid.UUID, str | None]:
    """A subscription row (webhook when `url`, e-mail when `address`); its id and secret."""
    subscription_id, secret = uuid.uuid4(), new_secret() if url else None
    channel = "webhook" if url else "email"
    await db.execute(
        "INSERT INTO subscriptions (id, tenant, channel, url, address, events, description, secret)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        subscription_id, tenant, channel, url, address, list(events), description, secret,
    )  # fmt: skip
    return subscription_id, secret


async def deliveries_of(db: asyncpg.Pool, subscription_id: uuid.UUID) -> list[dict[str, Any]]:
    """A subscription's deliveries, oldest first, each with its attempts."""
    rows = await db.fetch("SELECT * FROM deliveries WHERE subscription_id = $1 ORDER BY id", subscription_id)
    found = []
    for row in rows:
        attempts = await db.fetch("SELECT * FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt", row["id"])
        found.append({**dict(row), "attempt_rows": [dict(a) for a in attempts]})
    return found


async def settled(db: asyncpg.Pool, subscription_id: uuid.UUID, status: str, timeout: float = 20) -> dict[str, Any]:
    """Wait for the subscription's first delivery to reach `status`; it, with its attempts."""

    async def reached() -> dict[str, Any] | None:
        found = await deliveries_of(db, subscription_id)
        return found[0] if found and found[0]["status"] == status else None

    delivery: dict[str, Any] = await eventually(reached, timeout=timeout, message=f"a delivery {status}")
    return delivery
