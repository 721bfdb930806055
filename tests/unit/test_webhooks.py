"""Standard Webhooks signing, the pinned request, and what an answer means."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from actors.engines.notifications import Verdict, describe, judge
from infra.webhook_guard import AddressRefused, Target, check
from infra.webhooks import new_secret, payload, pinned_request, secret_key, sign, signed_headers

#: The example of the Standard Webhooks specification (and of its reference libraries).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specification_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_carry_id_timestamp_and_signature() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_BODY, timestamp=SPEC_TIMESTAMP)
    assert headers["webhook-id"] == SPEC_ID
    assert headers["webhook-timestamp"] == str(SPEC_TIMESTAMP)
    assert headers["webhook-signature"] == SPEC_SIGNATURE
    assert headers["content-type"] == "application/json" and headers["user-agent"].startswith("Conveyor")


def test_new_secrets_are_whsec_and_24_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 24


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_"])
def test_malformed_secrets_are_refused_without_repeating_them(secret: str) -> None:
    with pytest.raises(ValueError, match="signing secret") as caught:
        secret_key(secret)
    assert secret.removeprefix("whsec_") not in str(caught.value) or not secret.removeprefix("whsec_")


def test_body_is_type_timestamp_and_data() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    body = json.loads(payload("job.succeeded", at, {"id": "j1"}))
    assert body == {"type": "job.succeeded", "timestamp": "2026-01-02T03:04:05+00:00", "data": {"id": "j1"}}


def test_request_goes_to_the_checked_address_naming_the_host() -> None:
    # Given a name the guard resolved to one public address
    target = check("https://hooks.example.com:8443/in?x=1", frozenset(), resolve=lambda host, port: ["93.184.216.34"])
    # When the request is built
    request = pinned_request(target, b"{}", {"webhook-id": "d1"}, timeout=5)
    # Then it connects to that address, while Host and TLS (SNI, certificate) name the host
    assert str(request.url) == "https://93.184.216.34:8443/in?x=1"
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.extensions["timeout"]["connect"] == 5


def test_ipv6_addresses_are_bracketed_and_plain_http_needs_no_sni() -> None:
    target = Target(url="http://hooks.example.com/x", scheme="http", host="hooks.example.com", port=80,
                    address="2606:2800:220:1::1")  # fmt: skip
    request = pinned_request(target, b"{}", {}, timeout=5)
    assert str(request.url) == "http://[2606:2800:220:1::1]/x"
    assert request.headers["host"] == "hooks.example.com" and "sni_hostname" not in request.extensions


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/", "http://[::1]/", "http://10.0.0.1/", "http://169.254.169.254/latest", "ftp://x/"]
)
def test_private_addresses_are_refused_unless_exempt(url: str) -> None:
    with pytest.raises(AddressRefused):
        check(url, frozenset())


def test_an_exempt_host_port_passes_and_keeps_its_address() -> None:
    assert check("http://127.0.0.1:8123/hook", frozenset({("127.0.0.1", 8123)})).address == "127.0.0.1"
    with pytest.raises(AddressRefused):  # the exemption is for that port only
        check("http://127.0.0.1:8124/hook", frozenset({("127.0.0.1", 8123)}))


def test_a_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(AddressRefused, match=r"127\.0\.0\.1"):
        check("https://sneaky.example.com/", frozenset(), resolve=lambda host, port: ["93.184.216.34", "127.0.0.1"])


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (410, Verdict.GONE), (429, Verdict.RETRY),
     (500, Verdict.RETRY), (503, Verdict.RETRY), (None, Verdict.RETRY), (301, Verdict.FAIL), (302, Verdict.FAIL),
     (400, Verdict.FAIL), (404, Verdict.FAIL)],
)  # fmt: skip
def test_answers_decide_the_delivery(status: int | None, verdict: Verdict) -> None:
    assert judge(status) is verdict


def test_a_redirect_is_recorded_as_not_followed() -> None:
    assert "not followed" in describe(302) and describe(404) == "answered 404"


def test_secret_key_is_the_base64_decoded_part() -> None:
    assert secret_key(SPEC_SECRET) == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
