"""The body of every error the API returns."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
import msgspec.inspect

NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


class FieldError(msgspec.Struct):
    """One problem with one field of a request (dotted path, `jobs[3].params.seconds`)."""

    field: str
    message: str


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What every 4xx/5xx answer carries: a stable code, a sentence, and the fields at fault."""

    error: str
    detail: str
    errors: list[FieldError] = []
    request_id: str | None = None


def field_error(message: str, at: str) -> FieldError:
    """A msgspec validation message, located at the dotted path `at`, as a FieldError.

    msgspec names a missing or unknown field inside its message ("Object contains unknown
    field `status`") while the location is the object holding it; the field is appended.
    """
    text, _, located = message.partition(" - at `")
    path = at
    if located:
        path = join_path(at, located.rstrip("`").removeprefix("$").lstrip("."))
    for marker in ("unknown field `", "missing required field `"):
        if marker in text:
            path = join_path(path, text.split(marker, 1)[1].split("`", 1)[0])
    return FieldError(field=path or "body", message=text)


def join_path(base: str, tail: str) -> str:
    """`base.tail`, without stray dots; list indices stay attached (`jobs[2]`)."""
    if not tail:
        return base
    if not base:
        return tail
    return base + tail if tail.startswith("[") else f"{base}.{tail}"


def nul_field(value: Any, at: str) -> str | None:
    """The path of the first text (key or value) in `value` holding a NUL character, which
    PostgreSQL cannot store; None if there is none."""
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = join_path(at, str(key))
            if "\x00" in str(key):
                return here
            if found := nul_field(item, here):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := nul_field(item, f"{at}[{index}]"):
                return found
    return None


def nul_errors(fields: Mapping[str, Any], at: str = "") -> list[FieldError]:
    """A FieldError for each of these fields (name → value) whose text holds a NUL character."""
    found = (nul_field(value, join_path(at, name)) for name, value in fields.items())
    return [FieldError(path, NUL_MESSAGE) for path in found if path is not None]


def allowed_values(tp: Any, path: str) -> list[str]:
    """The values the enum or literal at dotted `path` (`jobs[2].priority`) inside type `tp` takes,
    as text (with a number range where the field also takes numbers); [] if there is none there."""
    info = _at(msgspec.inspect.type_info(tp), [part for part in re.split(r"[.\[\]]", path) if part])
    found: list[str] = []
    for option in _options(info, into_lists=True):
        if isinstance(option, msgspec.inspect.EnumType):
            found += [str(member.value) for member in option.cls]
        elif isinstance(option, msgspec.inspect.LiteralType):
            found += [str(value) for value in option.values]
        elif isinstance(option, msgspec.inspect.IntType) and option.ge is not None and option.le is not None:
            found.append(f"{option.ge}–{option.le}")
    return found if any(not _is_range(value) for value in found) else []


def _is_range(value: str) -> bool:
    return "–" in value


def _options(info: msgspec.inspect.Type | None, *, into_lists: bool = False) -> list[msgspec.inspect.Type]:
    """The alternatives a type offers (the members of a union), lists' items in their place if asked."""
    if isinstance(info, msgspec.inspect.UnionType):
        return [option for member in info.types for option in _options(member, into_lists=into_lists)]
    if isinstance(info, msgspec.inspect.Metadata):
        return _options(info.type, into_lists=into_lists)
    if into_lists and isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType):
        return _options(info.item_type)
    return [] if info is None else [info]


def _at(info: msgspec.inspect.Type | None, parts: list[str]) -> msgspec.inspect.Type | None:
    """The type found by following `parts` (field names, list indices, dict keys) into `info`."""
    if not parts:
        return info
    head, rest = parts[0], parts[1:]
    for option in _options(info):
        if isinstance(option, msgspec.inspect.StructType):
            for field in option.fields:
                if field.encode_name == head:
                    return _at(field.type, rest)
        elif isinstance(option, msgspec.inspect.ListType | msgspec.inspect.SetType) and head.isdigit():
            return _at(option.item_type, rest)
        elif isinstance(option, msgspec.inspect.DictType):
            return _at(option.value_type, rest)
    return None


def enum_hint(error: FieldError, tp: Any, *, of: str = "") -> FieldError:
    """`error` naming the allowed values when the value was not one of them; `error.field` is a
    path inside type `tp`, or (`of`) inside the field of that name, which has type `tp`."""
    if "Invalid enum value" not in error.message and "Expected `" not in error.message:
        return error
    path = error.field.removeprefix(of).lstrip(".") if of else error.field
    if not (allowed := allowed_values(tp, path)):
        return error
    return FieldError(error.field, f"{error.message}: must be one of {', '.join(allowed)}")
