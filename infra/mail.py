"""E-mail notices over SMTP: the server from CONVEYOR_SMTP_URL, a message, and sending it.

`smtp://host:25` (STARTTLS when the server offers it), `smtp://user:pass@host:587`, or
`smtps://user:pass@host:465` (TLS from the start). The password is kept out of every repr,
log line and error text.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

import jinja2

SCHEMES = {"smtp": 25, "smtps": 465}
#: How long the SMTP server has for each step of the conversation.
SMTP_TIMEOUT_SECONDS = 30.0
MAX_SUBJECT = 200

HTML = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html><body style="font-family: sans-serif; line-height: 1.4">
<h2 style="margin: 0 0 0.5em">{{ notice.title }}</h2>
<p>{{ notice.body }}</p>
<table cellpadding="4" style="border-collapse: collapse">
<tr><th align="left">Status</th><td>{{ notice.status or "-" }}</td></tr>
<tr><th align="left">Operation</th><td>{{ notice.operation or "-" }}</td></tr>
{% if notice.error %}<tr><th align="left">Error</th><td><code>{{ notice.error }}</code></td></tr>{% endif %}
<tr><th align="left">Event</th><td>{{ notice.event_type }}</td></tr>
</table>
<p><a href="{{ notice.link }}">{{ notice.link }}</a></p>
</body></html>
"""
)


class MailError(Exception):
    """Sending failed; `permanent` when trying again cannot help (a refused address)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpServer:
    """Where e-mail goes, and how to sign in."""

    tls: bool
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of a CONVEYOR_SMTP_URL; ValueError (never quoting the password) if malformed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("CONVEYOR_SMTP_URL is not a URL like smtp://host:25") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("CONVEYOR_SMTP_URL must look like smtp://host:25 or smtps://user:pass@host:465")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpServer(parts.scheme == "smtps", parts.hostname, port or SCHEMES[parts.scheme], username, password)


@dataclass(frozen=True)
class Notice:
    """What an e-mail tells about one event."""

    title: str
    body: str
    event_type: str
    link: str
    status: str | None = None
    operation: str | None = None
    error: str | None = None


def text_body(notice: Notice) -> str:
    """The plain-text part."""
    lines = [notice.title, "", notice.body, ""]
    lines += [f"Status:    {notice.status or '-'}", f"Operation: {notice.operation or '-'}"]
    if notice.error:
        lines.append(f"Error:     {notice.error}")
    lines += [f"Event:     {notice.event_type}", "", notice.link, ""]
    return "\n".join(lines)


def compose(notice: Notice, *, sender: str, recipient: str, message_id: str) -> EmailMessage:
    """A multipart/alternative message (text and HTML); `message_id` is its stable local part."""
    message = EmailMessage()
    message["Subject"] = " ".join(notice.title.split())[:MAX_SUBJECT]
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "conveyor"
    message["Message-ID"] = f"<{message_id}@{domain}>"
    message.set_content(text_body(notice))
    message.add_alternative(HTML.render(notice=notice), subtype="html")
    return message


def send(server: SmtpServer, message: EmailMessage, *, timeout: float = SMTP_TIMEOUT_SECONDS) -> None:
    """Hand a message to the server (blocking); MailError saying why not."""
    try:
        _send(server, message, timeout)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        answers = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
        raise MailError(_scrub(f"the recipient was refused: {answers}", server), permanent=min(codes) >= 500) from None
    except smtplib.SMTPResponseException as exc:
        answer = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        message_text = f"the SMTP server answered {exc.smtp_code} {answer}"
        raise MailError(_scrub(message_text, server), permanent=exc.smtp_code >= 500) from None
    except (OSError, smtplib.SMTPException) as exc:
        text = f"could not send through {server.host}:{server.port}: {type(exc).__name__}: {exc}"
        raise MailError(_scrub(text, server), permanent=False) from None


def _send(server: SmtpServer, message: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.tls:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with client:
        client.ehlo()
        if not server.tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if server.username is not None:
            client.login(server.username, server.password or "")
        client.send_message(message)


def _scrub(text: str, server: SmtpServer) -> str:
    """An error text without the password, however a library or server came to repeat it."""
    return text.replace(server.password, "***") if server.password else text
