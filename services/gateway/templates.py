"""/v1/templates: named, versioned job bodies that jobs, schedules and workflow nodes start from."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import Provide
from litestar.params import Parameter

from infra import templates
from infra.keys import Principal
from infra.templates import to_view
from schemas.keys import Scope
from schemas.templates import TemplateName, TemplatePage, TemplateSubmit, TemplateView, parse_ref
from services.admission import check_notify_webhooks
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError, documented
from services.templates import check_template

Ref = Annotated[str, Parameter(description='A template\'s name (its latest version) or "name@<version>"')]


def not_found(ref: str) -> ApiError:
    """The answer for a template (or version) the tenant does not have."""
    return ApiError(404, "template_not_found", f"no template {ref}")


class TemplateController(Controller):
    """Job templates of the caller's tenant."""

    path = "/v1/templates"
    tags = ["templates"]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post(
        "/",
        guards=[requires(Scope.JOBS_WRITE)],
        summary="Save a template (a new version if it changed)",
        responses={200: documented(TemplateView, "The same as its latest version: nothing saved")},
    )
    async def save(self, data: TemplateSubmit, resources: Resources, principal: Principal) -> Response[TemplateView]:
        """201 with the new version (1 for a new name); 200 with the latest version when it holds
        the same body and description already."""
        body = check_template(data, resources.registry, resources.settings)
        await check_notify_webhooks([("notify", data.notify)], resources.settings)
        row, made = await templates.save_template(resources.pool, principal.tenant, data.name, data.description, body)
        view = to_view(row)
        location = f"{self.path}/{view.name}@{view.version}"
        return Response(view, status_code=201 if made else 200, headers={"Location": location})

    @get("/", guards=[requires(Scope.JOBS_READ)], summary="List templates by name")
    async def list_templates(
        self,
        resources: Resources,
        principal: Principal,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        cursor: Annotated[TemplateName | None, Parameter(description="next_cursor of the previous page")] = None,
    ) -> TemplatePage:
        """A page of templates, each at its latest version; pass `next_cursor` back as `cursor`."""
        rows = await templates.list_templates(resources.pool, principal.tenant, after=cursor, limit=limit + 1)
        items = [to_view(row) for row in rows[:limit]]
        return TemplatePage(items=items, next_cursor=items[-1].name if len(rows) > limit else None)

    @get("/{ref:str}", guards=[requires(Scope.JOBS_READ)], summary="Get a template, at its latest or a given version")
    async def get_template(self, ref: Ref, resources: Resources, principal: Principal) -> TemplateView:
        """`name`: its latest version; `name@3`: version 3."""
        try:
            wanted = parse_ref(ref)
        except ValueError:
            raise not_found(ref) from None
        row = (await templates.get_templates(resources.pool, principal.tenant, [wanted])).get(wanted)
        if row is None:
            raise not_found(ref)
        return to_view(row)

    @get("/{name:str}/versions", guards=[requires(Scope.JOBS_READ)], summary="Every version of a template")
    async def list_versions(self, name: str, resources: Resources, principal: Principal) -> list[TemplateView]:
        """Every version, newest first; old versions stay readable after a change."""
        rows = await templates.list_versions(resources.pool, principal.tenant, name)
        if not rows:
            raise not_found(name)
        return [to_view(row) for row in rows]

    # The path names its parameter `ref`, as GET does: one path, one parameter name.
    @delete("/{ref:str}", guards=[requires(Scope.JOBS_WRITE)], summary="Delete a template", status_code=204)
    async def remove(
        self,
        ref: Annotated[str, Parameter(description="The template's name")],
        resources: Resources,
        principal: Principal,
    ) -> None:
        """204: every version is gone; the jobs made from it stay, still naming the version."""
        if not await templates.delete_template(resources.pool, principal.tenant, ref):
            raise not_found(ref)
