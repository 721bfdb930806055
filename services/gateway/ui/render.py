"""Rendering dashboard pages: the Jinja environment, its filters, and page responses."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request
from litestar.datastructures import Cookie
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig

from schemas.events import EVENT_TYPES
from services.gateway.ui.session import Ui

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
#: A one-time message for the next page ("replayed 3"), carried across a redirect.
NOTICE = "conveyor_notice"


def short_id(value: object) -> str:
    """An id's last 8 characters: ids are UUIDv7, whose first ones are the creation time, the
    same for every job of the same minute; the last ones are random."""
    return str(value)[-8:]


def number(value: float | int | None, digits: int = 0) -> str:
    """A number with thousands separators ("—" for none)."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def percent(value: float | None) -> str:
    """A 0–1 fraction as a percentage ("—" for none)."""
    return "—" if value is None else f"{value * 100:.1f} %"


def duration(seconds: float | None) -> str:
    """A duration as "1 h 2 m", "3 m 4 s" or "5.6 s" ("—" for none)."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs} s"
    return f"{minutes // 60} h {minutes % 60} m"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or ahead) a time is: "12 s ago", "3 m ago", "in 2 h"."""
    if value is None:
        return "—"
    delta = ((now or datetime.now(UTC)) - value).total_seconds()
    span = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if span >= size:
            text = f"{int(span // size)} {unit}"
            break
    else:
        text = f"{int(span)} s"
    return f"{text} ago" if delta >= 0 else f"in {text}"


def utc(value: datetime | None) -> str:
    """A time as ISO 8601 in UTC (for `datetime` attributes and hover titles)."""
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def pretty_json(value: Any) -> str:
    """A value as indented JSON."""
    return json.dumps(msgspec.to_builtins(value), indent=2, ensure_ascii=False, sort_keys=True)


def query(params: dict[str, Any], **changes: Any) -> str:
    """A query string from `params` with `changes` applied (None removes a key); lists repeat."""
    merged = {**params, **changes}
    pairs = [(k, v) for k, values in merged.items() for v in (values if isinstance(values, list) else [values])]
    return urlencode([(k, str(v)) for k, v in pairs if v not in (None, "")])


def environment() -> Environment:
    """The dashboard's Jinja environment (HTML autoescaped)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    env.filters.update(
        short_id=short_id, number=number, percent=percent, duration=duration, ago=ago, utc=utc, pretty_json=pretty_json
    )
    env.globals.update(query=query, event_types=EVENT_TYPES)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The app's template configuration."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def page(request: Request[Any, Any, Any], name: str, ui: Ui | None, status_code: int = 200, **context: Any) -> Template:
    """A page (or fragment) rendered for the viewer, with the notice a redirect left, if any."""
    notice = _read_notice(request.cookies.get(NOTICE))
    cookies = [Cookie(key=NOTICE, value="", path="/ui", max_age=0, expires=0)] if notice else []
    context = {"ui": ui, "path": request.url.path, "request_query": request.url.query, "notice": notice, **context}
    return Template(name, context=context, cookies=cookies, status_code=status_code)


def back_to(request: Request[Any, Any, Any], where: str | None, notice: str | None = None) -> Redirect:
    """303 to a dashboard URL (anything else: /ui), carrying a notice for the next page."""
    target = where if where and where.startswith("/ui") and not where.startswith("//") else "/ui"
    cookies = []
    if notice:
        encoded = base64.urlsafe_b64encode(notice.encode()).decode()
        cookies.append(Cookie(key=NOTICE, value=encoded, path="/ui", max_age=60, httponly=True, samesite="strict"))
    return Redirect(path=target, status_code=303, cookies=cookies)


def _read_notice(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return base64.urlsafe_b64decode(raw.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def job_uuid(value: str) -> uuid.UUID | None:
    """An id typed into a search box, or None if it is not one."""
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None
