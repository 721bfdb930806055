"""One request and how to read its answer, shared by the sync and the async client."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx
import msgspec

from services.client.errors import error_from

T = TypeVar("T")
Query = Mapping[str, Any]


@dataclass(frozen=True)
class Call(Generic[T]):
    """A request (method, path under the gateway, query, JSON body, headers) and the type of its
    answer; `accept` lists error statuses whose body is still the answer (503 of /v1/health)."""

    method: str
    path: str
    decode: Callable[[bytes], T]
    query: Query | None = None
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    accept: frozenset[int] = frozenset()

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The httpx request, on the client's base URL."""
        content = None if self.body is None else msgspec.json.encode(sent(self.body))
        headers = {**self.headers, **({"Content-Type": "application/json"} if content is not None else {})}
        return http.build_request(self.method, self.path, params=query(self.query), content=content, headers=headers)

    def answer(self, response: httpx.Response) -> T:
        """The decoded answer; ConveyorError for an error status."""
        if response.is_error and response.status_code not in self.accept:
            raise error_from(response)
        return self.decode(response.content)


def call(
    method: str,
    path: str,
    result: type[T],
    *,
    query: Query | None = None,
    body: Any = None,
    headers: Mapping[str, str | None] | None = None,
    accept: frozenset[int] = frozenset(),
) -> Call[T]:
    """A call whose answer is a JSON `result` (a Struct, or None for an empty answer)."""
    decoder = msgspec.json.Decoder(result)

    def decode(content: bytes) -> T:
        return None if result is type(None) else decoder.decode(content)  # type: ignore[return-value]

    kept = {k: v for k, v in (headers or {}).items() if v is not None}
    return Call(method, path, decode, query=query, body=body, headers=kept, accept=accept)


def then(inner: Call[Any], pick: Callable[[Any], T]) -> Call[T]:
    """`inner`, its answer passed through `pick` (a batch's `.jobs`)."""
    decode = inner.decode
    return Call(
        inner.method,
        inner.path,
        lambda content: pick(decode(content)),
        query=inner.query,
        body=inner.body,
        headers=inner.headers,
        accept=inner.accept,
    )


def query(params: Query | None) -> dict[str, Any]:
    """Query parameters as httpx takes them: None dropped, lists repeated, ids and times as text."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None or (isinstance(value, list | tuple) and not value):
            continue
        if isinstance(value, list | tuple):
            out[key] = [text(item) for item in value]
        else:
            out[key] = text(value)
    return out


def text(value: Any) -> str:
    """A query value as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sent(value: Any) -> Any:
    """What a body sends: a Struct's fields that differ from their defaults (the gateway reads a
    field left out differently from one sent, e.g. over a template), recursively."""
    if isinstance(value, msgspec.Struct):
        out = {}
        for info in msgspec.structs.fields(value):
            item = getattr(value, info.name)
            if item is msgspec.UNSET or is_default(info, item):
                continue
            out[info.encode_name] = sent(item)
        return out
    if isinstance(value, dict):
        return {k: sent(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sent(v) for v in value]
    return value


def is_default(info: msgspec.structs.FieldInfo, value: Any) -> bool:
    """Whether a field holds its default value."""
    if info.default is not msgspec.NODEFAULT:
        return bool(value == info.default and type(value) is type(info.default))
    if info.default_factory is not msgspec.NODEFAULT:
        return bool(value == info.default_factory())
    return False
