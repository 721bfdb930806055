"""Who a dashboard request acts for (the session its cookie names) and its CSRF check.

The cookie holds a random session id, HttpOnly and SameSite=Strict; PostgreSQL holds only its
hash (infra/ui_sessions.py). A session acts with its API key's tenant and scopes, so the
dashboard can do exactly what the key could do through the API.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, FormMultiDict

from infra import ui_sessions
from infra.keys import Principal
from schemas.keys import Scope
from services.gateway.errors import ApiError

COOKIE = "conveyor_session"
#: How long a sign-in lasts.
LIFETIME = timedelta(hours=12)
#: The hidden field every state-changing form carries (htmx requests may send the header).
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"


class SignInRequired(Exception):
    """The request has no live session: the browser is sent to the sign-in page."""


@dataclass(frozen=True)
class Ui:
    """The signed-in viewer of a page: who it acts for and its forms' CSRF token."""

    principal: Principal
    csrf_token: str
    #: Where the page's event stream starts: the last event handed out when the request began,
    #: so that nothing that happens while the page loads is missed (None: the next event).
    stream_after: int | None = None

    def can(self, scope: str) -> bool:
        """Whether the key holds `scope` (admin holds them all)."""
        return Scope(scope) in self.principal.scopes or Scope.ADMIN in self.principal.scopes

    def require(self, scope: Scope) -> None:
        """403 in the API's words unless the key holds `scope`."""
        if not self.can(scope):
            raise ApiError(403, "forbidden", f"this API key lacks the '{scope.value}' scope")


async def find_ui(connection: ASGIConnection[Any, Any, Any, Any]) -> Ui | None:
    """The live session the request's cookie names, or None."""
    session_id = connection.cookies.get(COOKIE)
    if not session_id:
        return None
    found = await ui_sessions.find_session(connection.app.state.resources.pool, session_id)
    return None if found is None else Ui(found.principal, found.csrf_token)


async def provide_ui(request: Request[Any, Any, Any]) -> Ui:
    """The page's viewer; the browser goes to the sign-in page if there is none."""
    hub = request.app.state.resources.events
    after = hub.cursor if await hub.wait_ready(0.05) else None
    ui = await find_ui(request)
    if ui is None:
        raise SignInRequired()
    return replace(ui, stream_after=after)


async def checked_form(request: Request[Any, Any, Any], ui: Ui) -> FormMultiDict:
    """The posted form, once its CSRF token matches the session's; 403 otherwise (nothing done)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), ui.csrf_token.encode()):
        raise ApiError(403, "csrf_failed", "the form's CSRF token is missing or wrong; reload the page and try again")
    return form


def session_cookie(request: Request[Any, Any, Any], session_id: str | None) -> Cookie:
    """The session cookie to set (None: to delete)."""
    return Cookie(
        key=COOKIE,
        value=session_id or "",
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(LIFETIME.total_seconds()) if session_id else 0,
        expires=None if session_id else 0,
    )
