"""What the gateway accepts: JSON bodies of the documented types only (measured, then checked
strictly), query parameters the route declares only."""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Litestar, Request
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send

from schemas.contracts import Contract, Contracts
from schemas.errors import FieldError, enum_hint, field_error
from schemas.events import EVENT_PATTERNS, JOB_EVENT_TYPES, WORKFLOW_EVENT_TYPES
from schemas.nesting import NESTING_MESSAGE, too_deep
from services.gateway.errors import BEARER, ApiError, schema_handlers


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


def publish_contract(app: Litestar, registry: Contracts) -> None:
    """Make `app`'s OpenAPI document say what the gateway enforces: its Structs' schemas as msgspec
    checks them (ranges, patterns, lengths, `additionalProperties: false` where unknown fields are
    refused), each job's engine, operation and params as the registry declares them, and the
    bearer API key."""
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = document.setdefault("components", {})
    operations = [c for c in registry.operations() if registry.offered(c.engine, c.name) is not None]
    bodies = {s for _, handler, _ in schema_handlers(app) for s in _handler_structs(handler, answers=False)}
    structs = {s for _, handler, _ in schema_handlers(app) for s in _handler_structs(handler)}
    _, schemas = _components(structs | bodies | {c.params for c in operations})
    params = {c.key: _name(c.params, schemas) for c in operations}
    for struct in _subclasses(msgspec.Struct):  # the rules across fields some Structs state
        if (rules := getattr(struct, "schema_rules", None)) is not None and _name(struct, schemas) in schemas:
            schemas[_name(struct, schemas)].update(rules)
    for name in _components(bodies)[1]:
        if {"engine", "operation", "params"} <= set(schemas[name].get("properties", {})):  # a job to run
            _name_operations(schemas[name], operations, params, schemas)
        if "notify" in schemas[name].get("properties", {}):
            _narrow_notify(schemas, name)
    if (subscription := schemas.get("SubscriptionFilter")) is not None:
        names = sorted({c.name for c in operations} | {c.key for c in operations})
        subscription["properties"]["operations"]["items"]["enum"] = names
    components.setdefault("schemas", {}).update(schemas)
    components.setdefault("securitySchemes", {})[BEARER] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer <key>`",
    }
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                _constrain_choices(parameter.get("schema", {}))
    list_every_method(app)


#: The keywords that constrain one kind of value (numbers, text, lists).
_CONSTRAINTS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern")


def _constrain_choices(schema: dict[str, Any]) -> None:
    """An optional parameter's schema (`oneOf` a type and null) with its constraints inside the
    type's branch, where every reader applies them."""
    branches = [b for b in schema.get("oneOf", []) if b.get("type") != "null"]
    moved = {key: schema.pop(key) for key in _CONSTRAINTS if key in schema}
    if len(branches) == 1:
        branches[0].update(moved)
    else:
        schema.update(moved)


def list_every_method(app: Litestar) -> None:
    """Make each path's OPTIONS answer list all its methods in `Allow`. (Litestar answers with
    the methods of the first controller method registered on the path when several are.)"""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.http_methods == {"OPTIONS"} and not handler.resolve_include_in_schema():
                    handler._fn = route.create_options_handler(route.path).fn


REF = "#/components/schemas/"


def _components(structs: set[type[msgspec.Struct]]) -> tuple[Any, dict[str, Any]]:
    """msgspec's JSON Schema components of these Structs (and those they hold)."""
    ordered = sorted(structs, key=lambda s: (s.__module__, s.__qualname__))
    return msgspec.json.schema_components(ordered, ref_template=f"{REF}{{name}}")


def _handler_structs(handler: HTTPRouteHandler, *, answers: bool = True) -> Iterator[type[msgspec.Struct]]:
    """The Structs a handler takes as its body (and, with `answers`, gives back)."""
    signature = handler.parsed_fn_signature
    if answers:
        yield from _structs(signature.return_type.annotation)
    if (data := signature.parameters.get("data")) is not None:
        yield from _structs(data.annotation)


def _structs(annotation: Any) -> Iterator[type[msgspec.Struct]]:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _structs(argument)


def _narrow_notify(schemas: dict[str, Any], name: str) -> None:
    """A submission's `notify` naming only the events of what is submitted: a job's (or a
    template's) or a workflow's, as JobNotify or WorkflowNotify."""
    job = "engine" in schemas[name]["properties"]
    kind, events = ("JobNotify", JOB_EVENT_TYPES) if job else ("WorkflowNotify", WORKFLOW_EVENT_TYPES)
    narrowed = copy.deepcopy(schemas["Notify"])
    narrowed["title"] = kind
    narrowed["properties"]["events"]["items"]["enum"] = [*events, *EVENT_PATTERNS]
    schemas[kind] = narrowed
    schemas[name]["properties"]["notify"] = {"anyOf": [{"$ref": REF + kind}, {"type": "null"}], "default": None}


def _subclasses(cls: type[msgspec.Struct]) -> Iterator[type[msgspec.Struct]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _name(struct: type[msgspec.Struct], schemas: dict[str, Any]) -> str:
    """The component name msgspec gave a Struct: its name, or its import path when names clash."""
    full = re.sub(r"[^a-zA-Z0-9.\-_]", "_", f"{struct.__module__}.{struct.__qualname__}")
    return full if full in schemas else struct.__name__


def _name_operations(
    schema: dict[str, Any], operations: list[Contract], params: dict[str, str], schemas: dict[str, Any]
) -> None:
    """A submitted job's schema with its engine and operation one of the pairs offered, and engine
    and operation required. A job that may be made from a template (which holds them) needs them
    only without one, and its params are those of its operation (a template's are partial)."""
    properties = schema["properties"]
    properties["engine"] = {**properties["engine"], "enum": sorted({c.engine for c in operations})}
    properties["operation"] = {**properties["operation"], "enum": sorted({c.name for c in operations})}
    runnable = "template" in properties
    choices: list[dict[str, Any]] = []
    for c in operations:
        pair: dict[str, Any] = {"engine": {"const": c.engine}, "operation": {"const": c.name}}
        required = ["engine", "operation"]
        if runnable:
            pair["params"] = {"$ref": REF + params[c.key]}
            required += ["params"] if schemas[params[c.key]].get("required") else []
        choices.append({"properties": pair, "required": required})
    if runnable:
        choices.insert(0, {"required": ["template"], "properties": {"template": {"type": "string"}}})
    schema["anyOf"] = choices
