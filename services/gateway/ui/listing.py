"""The query strings of the workflows, schedules and subscriptions pages, declared for the router
(a page names the parameters it takes, as the API's listings do) and read as the API reads them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from services.gateway.paging import after_cursor
from services.gateway.ui.filters import limit, text

PAGE_SIZE = 50


@dataclass(frozen=True)
class Paging:
    """A listing's page: the cursor it continues after (None: the first page) and its size."""

    cursor: str | None = None
    limit: int = PAGE_SIZE

    def params(self) -> dict[str, Any]:
        """The page size as a query parameter (None at the default)."""
        return {"limit": None if self.limit == PAGE_SIZE else self.limit}


def provide_paging(request: Request[Any, Any, Any], limit: str | None = None, cursor: str | None = None) -> Paging:
    """`limit` and `cursor` of the query string; 422 in the API's words for a bad one. (The
    parameters declare them to the router; they are read as the API's listings read them.)"""
    return read_paging(request)


def read_paging(request: Request[Any, Any, Any]) -> Paging:
    """`limit` and `cursor` of a request's query string."""
    params = request.query_params
    paging = Paging(cursor=text(params, "cursor"), limit=limit(params, PAGE_SIZE))
    after_cursor(paging.cursor)
    return paging
