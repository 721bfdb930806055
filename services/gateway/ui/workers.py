"""/ui/workers (admin, as /v1/workers is): every live worker process, its queues, threads,
last sign of life and the jobs it runs, live."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from infra import workers
from schemas.keys import Scope
from services.gateway.deps import Resources
from services.gateway.ui.render import page
from services.gateway.ui.session import Ui


class WorkerPages(Controller):
    """The live worker processes."""

    path = "/ui/workers"

    @get("/", name="ui-workers")
    async def list_page(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Template:
        """Host, pid, queues, threads, start, last seen and running jobs of each live worker."""
        return page(request, "workers.html", ui, **await self._context(resources, ui))

    @get("/rows")
    async def rows(self, request: Request[Any, Any, Any], resources: Resources, ui: Ui) -> Template:
        """The workers table alone (live updates)."""
        return page(request, "fragments/worker_rows.html", ui, **await self._context(resources, ui))

    async def _context(self, resources: Resources, ui: Ui) -> dict[str, Any]:
        ui.require(Scope.ADMIN)
        live = await workers.live_workers(resources.pool, lease_seconds=resources.settings.lease_seconds)
        return {
            "workers": live,
            "threads": sum(w.threads for w in live),
            "busy": sum(len(w.running_job_ids) for w in live),
        }
