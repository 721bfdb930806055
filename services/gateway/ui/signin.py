"""/ui/sign-in and /ui/sign-out: a browser signs in with an API key into a server-side session."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from infra import ui_sessions
from services.gateway.auth import KeyCache
from services.gateway.deps import Resources
from services.gateway.ui.render import back_to, page
from services.gateway.ui.session import COOKIE, CSRF_FIELD, LIFETIME, Ui, checked_form, find_ui, session_cookie

#: The sign-in form's own CSRF token (there is no session yet): a SameSite=Strict cookie the
#: form must echo, so another site cannot sign a browser in with a key of its choosing.
SIGN_IN_COOKIE = "conveyor_sign_in"


def sign_in_form(request: Request[Any, Any, Any], next_url: str, error: str | None, status_code: int = 200) -> Template:
    """The sign-in form, with a fresh token in the form and in its cookie."""
    token = secrets.token_urlsafe(24)
    response = page(request, "sign_in.html", None, status_code=status_code, next_url=next_url, error=error, token=token)
    response.set_cookie(
        Cookie(
            key=SIGN_IN_COOKIE,
            value=token,
            path="/ui/sign-in",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=3600,
        )
    )
    return response


class SignInController(Controller):
    """Signing in and out."""

    path = "/ui"

    @get("/sign-in", name="ui-sign-in")
    async def sign_in_page(self, request: Request[Any, Any, Any], next_url: str | None = None) -> Template | Redirect:
        """The sign-in form (a signed-in browser goes straight on)."""
        if await find_ui(request) is not None:
            return back_to(request, next_url)
        return sign_in_form(request, next_url or "/ui", None)

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: Request[Any, Any, Any], resources: Resources) -> Template | Redirect:
        """Check the form's token and the key; open a session (its id in an HttpOnly,
        SameSite=Strict cookie)."""
        form = await request.form()
        key = str(form.get("api_key") or "").strip()
        next_url = str(form.get("next_url") or "/ui")
        sent, expected = str(form.get(CSRF_FIELD) or ""), request.cookies.get(SIGN_IN_COOKIE) or ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return sign_in_form(request, next_url, "the form expired; sign in again", status_code=403)
        cache: KeyCache = request.app.state.key_cache
        principal = await cache.principal(key) if key else None
        if principal is None:
            error = "invalid or revoked API key" if key else "enter an API key"
            return sign_in_form(request, next_url, error, status_code=401)
        session_id, _ = await ui_sessions.create_session(resources.pool, principal.key_id, lifetime=LIFETIME)
        redirect = back_to(request, next_url)
        redirect.set_cookie(session_cookie(request, session_id))
        redirect.set_cookie(Cookie(key=SIGN_IN_COOKIE, value="", path="/ui/sign-in", max_age=0, expires=0))
        return redirect

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Redirect:
        """Forget the session (CSRF-checked, so no other site can sign a browser out)."""
        await checked_form(request, ui)
        await ui_sessions.delete_session(resources.pool, request.cookies[COOKIE])
        redirect = Redirect(path="/ui/sign-in", status_code=303)
        redirect.set_cookie(session_cookie(request, None))
        return redirect
