"""Every error answer is JSON (schemas.errors.ErrorBody) naming the fields at fault."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import structlog
from litestar import Litestar, MediaType, Request, Response
from litestar._kwargs import KwargsModel
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from infra.db import UNAVAILABLE, is_unavailable
from schemas.errors import NUL_MESSAGE, ErrorBody, FieldError, enum_hint, field_error
from services.submit import SubmitError

log = structlog.get_logger("conveyor.gateway")

#: What a 503 tells a client to wait before trying again.
RETRY_AFTER_SECONDS = 1

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}

#: What each documented error status means, as the OpenAPI document says it.
MEANINGS = {
    400: "The body is not JSON (or not readable at all)",
    401: "No API key, or an unknown or revoked one",
    403: "The API key lacks the scope this needs, or the tenant is not the key's",
    404: "No such resource in the key's tenant",
    409: "The resource's state does not allow this now",
    413: "The body is larger than the gateway accepts",
    422: "A field or query parameter is invalid, missing or unknown; `errors` names each",
    429: "Too many queued jobs: wait Retry-After seconds",
    503: "The database is unavailable: wait Retry-After seconds",
}
#: The name under which the security scheme of API keys is published.
BEARER = "apiKey"


class ApiError(HTTPException):
    """An error answer with a stable code and the fields at fault."""

    def __init__(self, status: int, code: str, detail: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail=detail, status_code=status)
        self.code = code
        self.errors = errors or []


def respond(
    request: Request[Any, Any, Any], status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    """An error response, carrying the request id."""
    body.request_id = request.scope.get("state", {}).get("request_id")
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def on_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorBody]:
    """ApiError → its body."""
    return respond(request, exc.status_code, ErrorBody(error=exc.code, detail=exc.detail, errors=exc.errors))


def on_submit_error(request: Request[Any, Any, Any], exc: SubmitError) -> Response[ErrorBody]:
    """A refused submission → 422 (409, or 429 with Retry-After) naming each field at fault."""
    headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
    return respond(request, exc.status, ErrorBody(error=exc.code, detail=str(exc), errors=exc.errors), headers)


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar's decoding errors: malformed JSON → 400, fields that do not fit → 422."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field(request, item) for item in extra if isinstance(item, dict)]
    if not errors:
        return respond(
            request,
            400,
            ErrorBody(error="malformed_request", detail=exc.detail, errors=[FieldError("body", exc.detail)]),
        )
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return respond(request, 422, ErrorBody(error="invalid_request", detail=detail, errors=errors))


def _field(request: Request[Any, Any, Any], item: dict[str, Any]) -> FieldError:
    key = str(item.get("key") or "")
    message = str(item.get("message", "invalid"))
    if key == "data" and message == "'data'":  # no body at all
        return FieldError("body", "a JSON object is required")
    error = field_error(message, "" if key == "data" else key)
    parameters = request.route_handler.parsed_fn_signature.parameters
    if (parameter := parameters.get(key)) is not None and key != "data":  # a query parameter's allowed values
        return enum_hint(error, parameter.annotation, of=key)
    return error


def same_key(body_key: str | None, header_key: str | None) -> str | None:
    """The idempotency key of a submission, from its body or its Idempotency-Key header; 422 if they differ."""
    if header_key is not None and body_key not in (None, header_key):
        raise ApiError(
            422,
            "invalid_request",
            "the Idempotency-Key header and the body's idempotency_key differ",
            [FieldError("idempotency_key", "differs from the Idempotency-Key header")],
        )
    return header_key if header_key is not None else body_key


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Other HTTP errors (401, 403, 404, 405, 413 …) with a stable code."""
    status = exc.status_code
    if status >= 500:
        return on_unexpected(request, exc)
    headers = dict(exc.headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="conveyor"')
    code = CODES.get(status, "error")
    errors: list[FieldError] = []
    if status == 400:  # the body could not be read at all (malformed JSON, wrong encoding)
        code, errors = "malformed_request", [FieldError("body", exc.detail)]
    return respond(request, status, ErrorBody(error=code, detail=exc.detail, errors=errors), headers)


def on_unstorable_text(request: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[ErrorBody]:
    """Text PostgreSQL refuses to store (a NUL character) that no check caught by name: 422, not 500."""
    log.warning("unstorable_text", error=str(exc))
    body = ErrorBody(error="invalid_request", detail=f"the request holds text that {NUL_MESSAGE}")
    body.errors = [FieldError("body" if request.method in ("POST", "PATCH", "PUT") else "query", NUL_MESSAGE)]
    return respond(request, 422, body)


def on_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """PostgreSQL cannot serve the request now (infra.db.UNAVAILABLE): 503, try again shortly."""
    log.warning("database_unavailable", error_type=type(exc).__name__, error=str(exc))
    body = ErrorBody(error="unavailable", detail="the database is unavailable; try again shortly")
    return respond(request, 503, body, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A bug: log it with its traceback, answer 500 without details."""
    if is_unavailable(exc):  # raised from an outage, wrapped on its way here
        return on_unavailable(request, exc)
    log.exception("request_crashed", error_type=type(exc).__name__)
    body = ErrorBody(error="internal_error", detail="the server failed to handle this request; it has been logged")
    return respond(request, HTTP_500_INTERNAL_SERVER_ERROR, body)


def documented(data: Any, description: str) -> ResponseSpec:
    """A further answer a route gives, for its OpenAPI `responses`."""
    return ResponseSpec(data_container=data, description=description, generate_examples=False)


def error_statuses(handler: HTTPRouteHandler, kwargs: KwargsModel, path: str, *, authenticated: bool) -> list[int]:
    """The error statuses a route can answer, from what it takes (a body, parameters, a key)."""
    statuses = {422}
    takes_body = "data" in kwargs.expected_reserved_kwargs
    if authenticated:
        statuses |= {401, 403} if handler.resolve_guards() else {401}
    if kwargs.expected_path_params:
        statuses.add(404)
    if takes_body or kwargs.expected_path_params or kwargs.expected_query_params or kwargs.expected_header_params:
        statuses.add(400)
    if takes_body:
        statuses.add(413)
    if handler.http_methods - {"GET", "HEAD"}:
        statuses.add(409)
    if takes_body and "POST" in handler.http_methods:
        statuses.add(429)
    if path != "/healthz":
        statuses.add(503)
    return sorted(statuses)


def schema_handlers(app: Litestar) -> Iterator[tuple[str, HTTPRouteHandler, KwargsModel]]:
    """Every (path, handler, what the handler takes) the OpenAPI document publishes."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            seen = set()
            for handler, kwargs in route.route_handler_map.values():
                if id(handler) not in seen and handler.resolve_include_in_schema():
                    seen.add(id(handler))
                    yield route.path, handler, kwargs


def document_errors(app: Litestar, public: Sequence[str]) -> None:
    """Publish on every operation of `app` the error statuses it can answer, each with ErrorBody,
    and the API key it needs (every path but those matching a `public` pattern)."""
    for path, handler, kwargs in schema_handlers(app):
        authenticated = not any(re.search(pattern, path) for pattern in public)
        answers = {
            status: documented(ErrorBody, MEANINGS[status])
            for status in error_statuses(handler, kwargs, path, authenticated=authenticated)
        }
        handler.responses = {**answers, **(handler.responses or {})}
        if authenticated:
            handler.security = [{BEARER: []}]


HANDLERS: dict[Any, Any] = {
    ApiError: on_api_error,
    SubmitError: on_submit_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    asyncpg.exceptions.CharacterNotInRepertoireError: on_unstorable_text,
    asyncpg.exceptions.UntranslatableCharacterError: on_unstorable_text,
    **dict.fromkeys(UNAVAILABLE, on_unavailable),
    Exception: on_unexpected,
}
