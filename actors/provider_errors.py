"""The errors a model provider's exchange fails with, named as schemas.contracts.PROVIDER_ERRORS
declares them, so a job's `retry_on` can choose among them."""

from __future__ import annotations

from actors.sdk import PermanentError, TransientError


class ProviderRateLimited(TransientError):
    """The provider answered 429; `retry_in` holds its Retry-After."""


class ProviderUnavailable(TransientError):
    """The provider answered 408 or 5xx, could not be reached, or broke the connection."""


class ProviderTimeout(TransientError):
    """The provider did not answer in time."""


class ProviderRejected(PermanentError):
    """The provider refused the request (400, 401, 403, 404, …)."""


class ProviderBadAnswer(TransientError):
    """The model's answer was not what was asked for (not JSON, no text, a missing list)."""


class AnswerTruncated(PermanentError):
    """The model's answer was cut off at its token limit."""
