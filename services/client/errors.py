"""What a call to the API can fail with: an error answer, an unreachable gateway, a wait that ran out."""

from __future__ import annotations

import httpx
import msgspec

from schemas.errors import ErrorBody


class ConveyorError(Exception):
    """The API answered with an error: its HTTP status and its JSON body (`error`, `detail`, `errors`)."""

    def __init__(self, status: int, body: ErrorBody) -> None:
        super().__init__(f"{status} {body.error}: {body.detail}")
        self.status = status
        self.body = body

    @property
    def code(self) -> str:
        """The stable error code (`job_not_found`, `invalid_request`, …)."""
        return self.body.error

    @property
    def detail(self) -> str:
        """The sentence explaining the error."""
        return self.body.detail

    def line(self) -> str:
        """The error as one line: status, code, message and the fields at fault."""
        fields = "; ".join(f"{e.field}: {e.message}" for e in self.body.errors)
        return f"{self}" + (f" ({fields})" if fields and fields not in self.body.detail else "")


class ConveyorUnreachable(Exception):
    """The gateway could not be reached (refused, unresolvable, timed out)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach {url}: {reason}")
        self.url = url
        self.reason = reason


class WaitTimeout(TimeoutError):
    """A wait for a job or workflow to end (or a stream of events) ran out of time."""


def error_from(response: httpx.Response) -> ConveyorError:
    """The exception for an error answer; a body that is not the API's is kept as its detail."""
    try:
        body = msgspec.json.decode(response.content, type=ErrorBody)
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason_phrase
        body = ErrorBody(error=response.reason_phrase.lower().replace(" ", "_") or "error", detail=text)
    return ConveyorError(response.status_code, body)


def unreachable(url: str, exc: httpx.TransportError) -> ConveyorUnreachable:
    """The exception for a transport failure, with a short reason."""
    reason = str(exc) or type(exc).__name__
    return ConveyorUnreachable(url, reason)
