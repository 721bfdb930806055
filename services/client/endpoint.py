"""`endpoint`: one API method written once, a plain call on `Client` and awaitable on `AsyncClient`."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from services.client.calls import Call

if TYPE_CHECKING:
    from services.client.aio import AsyncClient
    from services.client.sync import Client

P = ParamSpec("P")
T = TypeVar("T")


class endpoint(Generic[P, T]):
    """A method of both clients made from a function building its Call: the sync client sends
    it and returns the answer, the async client returns an awaitable of it."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> endpoint[P, T]: ...
    @overload
    def __get__(self, obj: Client, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, obj: Any, owner: type[Any]) -> Any:
        if obj is None:
            return self
        build, send = self.build, obj.send

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return send(build(*args, **kwargs))

        return method
