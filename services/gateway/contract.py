"""The OpenAPI document as the gateway enforces it: the Structs' own schemas (as msgspec checks
them), each operation's params, the rules across fields some Structs state, and the formats
msgspec leaves out."""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from schemas.contracts import Contract, Contracts
from schemas.events import EVENT_PATTERNS, JOB_EVENT_TYPES, WORKFLOW_EVENT_TYPES
from services.gateway.errors import BEARER, schema_handlers


def publish_contract(app: Litestar, registry: Contracts) -> None:
    """Make `app`'s OpenAPI document say what the gateway enforces: its Structs' schemas as msgspec
    checks them (ranges, patterns, lengths, `additionalProperties: false` where unknown fields are
    refused), times as `date-time`, each job's engine, operation and params as the registry
    declares them, and the bearer API key."""
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = document.setdefault("components", {})
    operations = [c for c in registry.operations() if registry.offered(c.engine, c.name) is not None]
    bodies = {s for _, handler, _ in schema_handlers(app) for s in _handler_structs(handler, answers=False)}
    structs = {s for _, handler, _ in schema_handlers(app) for s in _handler_structs(handler)}
    _, schemas = _components(structs | bodies | {c.params for c in operations})
    params = {c.key: _name(c.params, schemas) for c in operations}
    for struct in _subclasses(msgspec.Struct):
        if not struct.__module__.startswith("schemas.") or (name := _name(struct, schemas)) not in schemas:
            continue
        _mark_date_times(struct, schemas[name])
        if (rules := getattr(struct, "schema_rules", None)) is not None:  # rules across fields
            schemas[name].update(rules)
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
    _optional_bodies(app, document.get("paths", {}))
    # the parameters' (bodies' text is left unmarked, the 422 naming the field: a fuzzer's
    # coverage phase would otherwise try a refused string in every text field of every body,
    # for many minutes)
    _refuse_nul(document.get("paths", {}))
    list_every_method(app)


#: Text PostgreSQL can store (and so the gateway takes): no NUL character.
NO_NUL = {"pattern": "^[^\\u0000]*$"}


def _refuse_nul(schema: Any) -> None:
    """Every free text in `schema` (a string with no enum, format or pattern of its own) said to
    hold no NUL character, which the gateway refuses (422): no text PostgreSQL stores holds one."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"enum", "const", "format", "pattern"} & set(schema):
            schema.update(NO_NUL)
        for value in schema.values():
            _refuse_nul(value)
    elif isinstance(schema, list):
        for item in schema:
            _refuse_nul(item)


def _optional_bodies(app: Litestar, paths: dict[str, Any]) -> None:
    """A body the handler may go without (`data: X | None = None`) published as not required
    (Litestar marks every body required)."""
    for route_path, handler, _ in schema_handlers(app):
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is None or not data.is_optional:
            continue
        path = paths.get(re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route_path), {})
        for method in handler.http_methods:
            if isinstance(body := path.get(method.lower(), {}).get("requestBody"), dict):
                body["required"] = False


def _mark_date_times(struct: type[msgspec.Struct], schema: dict[str, Any]) -> None:
    """A Struct's schema with its times as `date-time` strings (msgspec writes a time that may
    lack its offset as a bare string, which tells a generated client nothing, and lets a fuzzer
    send `""` as one)."""
    properties = schema.get("properties", {})
    info = msgspec.inspect.type_info(struct)
    for field in info.fields if isinstance(info, msgspec.inspect.StructType) else ():
        if field.encode_name in properties:
            _mark_date_time(field.type, properties[field.encode_name])


def _mark_date_time(kind: Any, schema: dict[str, Any]) -> None:
    inspect = msgspec.inspect
    if isinstance(kind, inspect.Metadata):
        _mark_date_time(kind.type, schema)
    elif isinstance(kind, inspect.DateTimeType):
        if schema.get("type") == "string":
            schema.setdefault("format", "date-time")
    elif isinstance(kind, inspect.UnionType):
        members = [m.type if isinstance(m, inspect.Metadata) else m for m in kind.types]
        if any(isinstance(m, inspect.DateTimeType) for m in members) and not any(
            isinstance(m, inspect.StrType | inspect.TimeType) for m in members
        ):  # the one bare string branch is the time's
            for branch in schema.get("anyOf", []):
                if branch.get("type") == "string" and not {"format", "enum", "const", "pattern"} & set(branch):
                    branch["format"] = "date-time"
    elif isinstance(kind, inspect.ListType | inspect.SetType | inspect.FrozenSetType | inspect.VarTupleType):
        if isinstance(schema.get("items"), dict):
            _mark_date_time(kind.item_type, schema["items"])
    elif isinstance(kind, inspect.DictType) and isinstance(schema.get("additionalProperties"), dict):
        _mark_date_time(kind.value_type, schema["additionalProperties"])


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
