"""Job templates: a named, versioned job body that submissions start from, and how one is merged."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from schemas.ids import TEMPLATE_NAME_PATTERN, TEMPLATE_REF_PATTERN
from schemas.jobs import JobSpec, Notify

NAME_PATTERN = TEMPLATE_NAME_PATTERN
TemplateName = Annotated[str, Meta(pattern=f"^{NAME_PATTERN}$", description="Letters, digits, _ . -")]
#: `name` (its latest version) or `name@3`.
TEMPLATE_REF = re.compile(rf"^(?P<name>{NAME_PATTERN})(@(?P<version>[1-9][0-9]{{0,8}}))?$")
TemplateRef = Annotated[
    str, Meta(pattern=TEMPLATE_REF_PATTERN, description='A template\'s name (its latest version) or "name@<version>"')
]
#: The fields of a job a template may not hold: they belong to one submission.
SUBMISSION_ONLY = ("run_at", "idempotency_key", "depends_on", "on_dependency_failure", "template")


class TemplateSubmit(JobSpec, kw_only=True):
    """A template as a client saves it: a job body (engine and operation required; params may
    leave out what each submission gives) under a name. Saving a changed body under a name makes
    its next version."""

    name: TemplateName
    description: Annotated[str, Meta(max_length=500)] = ""
    notify: Notify | None = None


class TemplateView(JobSpec, kw_only=True):
    """One version of a template."""

    name: str
    version: int
    description: str
    notify: Notify | None = None
    created_at: datetime
    #: The newest version of the template (this one, or a later one).
    latest_version: int


class TemplatePage(msgspec.Struct):
    """One page of templates (each at its latest version), by name."""

    items: list[TemplateView]
    next_cursor: str | None


def parse_ref(ref: str) -> tuple[str, int | None]:
    """A template reference's name and version (None: the latest); ValueError if it is none."""
    match = TEMPLATE_REF.match(ref)
    if match is None:
        raise ValueError(f'"{ref}" is not a template name or "name@<version>"')
    return match["name"], None if match["version"] is None else int(match["version"])


def template_body(submit: TemplateSubmit) -> dict[str, Any]:
    """What a version stores: the job body of a template, without its name and description."""
    body: dict[str, Any] = msgspec.to_builtins(submit)
    for name in ("name", "description", "run_at"):
        body.pop(name, None)
    return body


def merged(body: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A submission's fields over a template's body: each field given replaces the template's,
    but `params` and `metadata` merge into the template's (objects key by key, at every depth)
    and `tags` add to its tags."""
    out = dict(body)
    for name, value in given.items():
        if name in ("params", "metadata") and isinstance(value, dict):
            out[name] = deep_merge(out.get(name) or {}, value)
        elif name == "tags" and isinstance(value, list):
            out[name] = list(dict.fromkeys([*(out.get("tags") or []), *value]))
        else:
            out[name] = value
    return out


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on `base`: objects merge key by key, anything else in `over` replaces."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        out[key] = deep_merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return out
