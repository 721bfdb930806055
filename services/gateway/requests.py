"""What the gateway accepts: JSON bodies of the documented types only (measured, then checked
strictly), query parameters the route declares only."""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from schemas.errors import FieldError, enum_hint, field_error
from schemas.nesting import NESTING_MESSAGE, too_deep
from services.gateway.errors import ApiError


class GatewayRequest(Request[Any, Any, Any]):
    """A request whose JSON body nesting deeper than MAX_NESTING is refused (422 naming where)
    before any decoder walks it, and whose body must be of the route's type as JSON writes it:
    `"7"` is no number, `"true"` no boolean (422 naming each field)."""

    async def json(self) -> Any:
        """The decoded JSON body."""
        if (at := too_deep(await self.body())) is not None:
            raise ApiError(422, "invalid_request", f"{at} {NESTING_MESSAGE}", [FieldError(at, NESTING_MESSAGE)])
        value = await super().json()
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is not None and value is not None and (errors := strict_errors(data.annotation, value)):
            raise ApiError(422, "invalid_request", f"{errors[0].field}: {errors[0].message}", errors)
        return value


def strict_errors(tp: Any, value: Any) -> list[FieldError]:
    """What keeps decoded JSON `value` from being a `tp` without coercing text into numbers,
    booleans or the like ([] if it is one). An integral number written `26.0` is an integer."""
    try:
        msgspec.convert(_integral(value), tp, strict=True)
    except msgspec.ValidationError as exc:
        error = field_error(str(exc), "")
        return [enum_hint(error, tp)]
    return []


def _integral(value: Any) -> Any:
    """`value` with its integral floats as ints (JSON Schema's integers), the rest unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    return value


class KnownQueryOnly(ASGIMiddleware):
    """422 naming each query parameter the route does not declare (`?stat=failed` is not ignored),
    and each time that is not RFC 3339 text (`?created_after=0.5` is no time)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self) -> None:
        self._declared: dict[int, tuple[frozenset[str], frozenset[str]]] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Refuse the request if it names an undeclared parameter or a malformed time; pass it on otherwise."""
        if query := scope.get("query_string", b""):
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            names, times = self.declared(scope["route_handler"], scope["path_params"])
            errors = [FieldError(name, "unknown query parameter") for name in sorted({n for n, _ in pairs} - names)]
            errors += [
                FieldError(name, "must be an RFC 3339 time") for name, value in pairs if not _time(name, value, times)
            ]
            if errors:
                raise ApiError(422, "invalid_request", f"{errors[0].field}: {errors[0].message}", errors)
        await next_app(scope, receive, send)

    def declared(self, handler: Any, path_params: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
        """The query parameters a route handler (or its dependencies) takes, and those of them that are times."""
        if id(handler) not in self._declared and isinstance(handler, HTTPRouteHandler):
            model = handler.create_kwargs_model(path_parameters=path_params)
            signature = handler.parsed_fn_signature.parameters
            names = frozenset(param.field_alias for param in model.expected_query_params)
            times = frozenset(
                param.field_alias
                for param in model.expected_query_params
                if param.field_name in signature and datetime in _leaves(signature[param.field_name].annotation)
            )
            self._declared[id(handler)] = (names, times)
        return self._declared.get(id(handler), (frozenset(), frozenset()))


def _time(name: str, value: str, times: frozenset[str]) -> bool:
    """Whether a query value is fine as far as times go: not one, or RFC 3339 text."""
    if name not in times:
        return True
    try:
        msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        return False
    return True


def _leaves(annotation: Any) -> set[Any]:
    """The types an annotation is made of (`datetime | None` → datetime, None)."""
    arguments = typing.get_args(annotation)
    return {leaf for argument in arguments for leaf in _leaves(argument)} if arguments else {annotation}
