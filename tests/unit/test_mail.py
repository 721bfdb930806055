"""E-mail notices: the SMTP URL, the message, and errors that keep the password out."""

from __future__ import annotations

import pytest

from infra.mail import Notice, SmtpServer, compose, parse_smtp_url

NOTICE = Notice(
    title="Job summarize failed", body="upstream <refused>", event_type="job.failed",
    link="http://conveyor.example/v1/jobs/j1", status="failed", operation="text_intelligence.summarize",
    error="rate limited <b>now</b>",
)  # fmt: skip


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://mail.example:25", SmtpServer(False, "mail.example", 25)),
        ("smtp://mail.example", SmtpServer(False, "mail.example", 25)),
        ("smtp://u%40x:p%3Ass@mail.example:587", SmtpServer(False, "mail.example", 587, "u@x", "p:ss")),
        ("smtps://user:pw@mail.example:465", SmtpServer(True, "mail.example", 465, "user", "pw")),
        ("smtps://mail.example", SmtpServer(True, "mail.example", 465)),
    ],
)
def test_smtp_urls_name_server_port_and_login(url: str, server: SmtpServer) -> None:
    assert parse_smtp_url(url) == server


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://user:hunter2@mail.example:nope"])
def test_malformed_smtp_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="CONVEYOR_SMTP_URL") as caught:
        parse_smtp_url(url)
    assert "hunter2" not in str(caught.value)


def test_the_password_stays_out_of_the_repr() -> None:
    assert "hunter2" not in repr(parse_smtp_url("smtp://user:hunter2@mail.example:587"))


def test_message_has_subject_text_and_escaped_html() -> None:
    message = compose(NOTICE, sender="Conveyor <noreply@conveyor.example>", recipient="ops@example.com",
                      message_id="0190-d1")  # fmt: skip
    assert message["Subject"] == "Job summarize failed"
    assert message["Message-ID"] == "<0190-d1@conveyor.example>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "rate limited <b>now</b>" in text.get_content() and NOTICE.link in text.get_content()
    assert "rate limited &lt;b&gt;now&lt;/b&gt;" in html.get_content()
    assert f'href="{NOTICE.link}"' in html.get_content()


def test_an_address_that_would_inject_headers_is_refused() -> None:
    with pytest.raises(ValueError, match="linefeed"):
        compose(NOTICE, sender="c@conveyor.example", recipient="ops@example.com\r\nBcc: all@example.com",
                message_id="x")  # fmt: skip
