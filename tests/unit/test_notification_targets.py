"""Where notices may go: e-mail addresses, event names, subscription fields (no I/O)."""

from __future__ import annotations

import msgspec
import pytest

from schemas.jobs import Notify, notify_errors
from schemas.notifications import event_errors
from schemas.subscriptions import SubscriptionCreate, subscription_errors

GOOD = ["ops@example.com", "first.last+tag@mail.example.co.uk", "x@a-b.io", "o'neil@example.org"]
BAD = [
    "plain", "@example.com", "a@", "a@localhost", "a b@example.com", "a@exa mple.com", "a@b\r\nBcc: c@d.io",
    "a..b@example.com", ".a@example.com", "a@-example.com", '"quoted"@example.com', "a@example.com\x00",
    "a" * 65 + "@example.com", "a@" + "b" * 250 + ".com",
]  # fmt: skip


@pytest.mark.parametrize("address", GOOD)
def test_sane_addresses_are_taken(address: str) -> None:
    assert msgspec.convert({"email": [address]}, Notify).email == [address]


@pytest.mark.parametrize("address", BAD)
def test_addresses_that_could_mislead_smtp_are_refused(address: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.email\[0\]"):
        msgspec.convert({"email": [address]}, Notify)


def test_event_errors_name_each_unknown_type_by_index() -> None:
    errors = event_errors(["job.failed", "job.*", "job.exploded", "*", "workflow.started", "nope"], "events")
    assert [e.field for e in errors] == ["events[2]", "events[5]"]
    assert "job.succeeded" in errors[0].message


def test_notify_must_tell_somebody_of_events_it_may_hear() -> None:
    assert [e.field for e in notify_errors(Notify(), "notify", allowed=("job.failed",))] == ["notify"]
    wrong = Notify(inbox=True, events=["job.failed", "workflow.failed"])
    assert [e.field for e in notify_errors(wrong, "jobs[1].notify", allowed=("job.failed",))] == [
        "jobs[1].notify.events[1]"
    ]
    assert notify_errors(None, "notify", allowed=()) == []


def test_subscription_channels_take_their_own_target_only() -> None:
    def fields(**body: object) -> list[str]:
        return [e.field for e in subscription_errors(msgspec.convert({"events": ["*"], **body}, SubscriptionCreate))]

    assert fields(channel="webhook") == ["url"]
    assert fields(channel="email", url="https://example.com/") == ["url", "address"]
    assert fields(channel="inbox", filter={"engines": ["general", "nope"]}) == ["filter.engines[1]"]
    assert fields(channel="email", address="a@example.com") == []
