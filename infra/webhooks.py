"""Webhooks as Standard Webhooks sends them: secrets, the signed headers, and one attempt.

A request carries `webhook-id` (the delivery id: the same on every attempt, what receivers
deduplicate on), `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
(`v1,` + base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the bytes behind
the `whsec_` secret). `send` connects to the address the SSRF guard checked, never resolving
the host again, follows no redirect and uses no proxy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import msgspec

from infra.webhook_guard import Target

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 24
USER_AGENT = "Conveyor-Webhooks/1"
#: At most this much of a receiver's answer is read (it is not kept; reading lets the
#: connection end cleanly).
MAX_ANSWER_BYTES = 65_536


def new_secret() -> str:
    """A new signing secret, `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key behind a `whsec_` secret; ValueError (naming no part of it) if malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("the signing secret does not start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the signing secret is not whsec_ followed by base64") from None
    if not key:
        raise ValueError("the signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value of a message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(event_type: str, at: datetime, data: Any) -> bytes:
    """The body of a webhook: `{"type", "timestamp", "data"}` as compact JSON."""
    return msgspec.json.encode({"type": event_type, "timestamp": at.isoformat(), "data": data})


def signed_headers(secret: str, msg_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one attempt, signed now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Answer:
    """How one attempt ended: the receiver's status, or an error if none came."""

    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: str | None = None


def pinned_request(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> httpx.Request:
    """A POST of `body` to the checked address of `target`, naming the real host in `Host`
    and, for https, in TLS (SNI and certificate verification go by the name, not the address)."""
    url = httpx.URL(target.url)
    extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}
    if target.scheme == "https" and not _is_address(target.host):
        extensions["sni_hostname"] = target.host
    return httpx.Request(
        "POST",
        url.copy_with(host=target.address),
        content=body,
        headers={**headers, "host": url.netloc.decode("ascii")},
        extensions=extensions,
    )


def send(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    """One attempt (blocking): POST to the checked address, no redirects, no proxies."""
    started = time.monotonic()
    request = pinned_request(target, body, headers, timeout)
    try:
        with httpx.Client(follow_redirects=False, trust_env=False) as client:
            response = client.send(request, stream=True)
            try:
                _drain(response, started + timeout)
            finally:
                response.close()
    except httpx.TimeoutException:
        return Answer(None, f"no answer within {timeout:g} s", _ms(started))
    except httpx.ConnectError as exc:
        return Answer(None, f"could not connect to {target.host}:{target.port}: {exc}", _ms(started))
    except httpx.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}", _ms(started))
    return Answer(response.status_code, None, _ms(started), response.headers.get("retry-after"))


def _drain(response: httpx.Response, deadline: float) -> None:
    """Read (and drop) a little of the answer's body, until the deadline at most."""
    read = 0
    for chunk in response.iter_raw():
        read += len(chunk)
        if read >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
            break


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
