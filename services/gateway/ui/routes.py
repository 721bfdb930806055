"""The dashboard's router: every page group, its error pages, and the static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from services.gateway.errors import CODES, ApiError, on_unexpected
from services.gateway.ui.dead_letters import DeadLetterPages
from services.gateway.ui.job import JobPage
from services.gateway.ui.jobs import JobPages
from services.gateway.ui.overview import OverviewPages
from services.gateway.ui.queues import QueuePages
from services.gateway.ui.render import page
from services.gateway.ui.schedules import SchedulePages
from services.gateway.ui.session import SignInRequired, provide_ui
from services.gateway.ui.signin import SignInController
from services.gateway.ui.subscriptions import SubscriptionPages
from services.gateway.ui.workers import WorkerPages
from services.gateway.ui.workflows import WorkflowPages

STATIC = Path(__file__).resolve().parents[1] / "static"

#: Every page group; a new one is added here.
PAGES: list[ControllerRouterHandler] = [
    SignInController,
    OverviewPages,
    JobPages,
    JobPage,
    DeadLetterPages,
    QueuePages,
    WorkflowPages,
    SchedulePages,
    SubscriptionPages,
    WorkerPages,
]


def to_sign_in(request: Request[Any, Any, Any], _: SignInRequired) -> Response[Any]:
    """No session: pages go to the sign-in form (htmx requests are told to go there)."""
    if request.headers.get("HX-Request"):
        return Response(b"", status_code=401, headers={"HX-Redirect": "/ui/sign-in"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(path="/ui/sign-in", query_params={"next_url": target}, status_code=303)


def error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """An error as a page, in the API's words (5xx: logged, as the API does)."""
    if exc.status_code >= 500:
        return on_unexpected(request, exc)
    code = exc.code if isinstance(exc, ApiError) else CODES.get(exc.status_code, "error")
    return page(request, "error.html", None, status_code=exc.status_code, code=code, detail=exc.detail)


def ui_handlers(extra: list[ControllerRouterHandler] | None = None) -> list[ControllerRouterHandler]:
    """The dashboard's router (its pages and `extra` page groups) and its static files."""
    pages = Router(
        path="/",
        route_handlers=[*PAGES, *(extra or [])],
        dependencies={"ui": Provide(provide_ui)},
        exception_handlers={
            SignInRequired: to_sign_in,
            ApiError: error_page,
            ValidationException: error_page,
            HTTPException: error_page,
        },
        include_in_schema=False,
    )
    static = create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False)
    return [pages, static]
