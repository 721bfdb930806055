"""/v1/workers and /v1/health (admin): the live worker processes and the health of the cluster."""

from __future__ import annotations

from litestar import Controller, Response, get

from infra import workers
from schemas.keys import Scope
from schemas.operations import HealthReport, WorkerList
from services.gateway.auth import requires
from services.gateway.deps import Resources
from services.gateway.errors import documented
from services.operations import health


class WorkerController(Controller):
    """Worker processes that said they were alive within the lease."""

    path = "/v1/workers"
    tags = ["operations"]
    guards = [requires(Scope.ADMIN)]

    @get("/", summary="Live worker processes")
    async def list_workers(self, resources: Resources) -> WorkerList:
        """Host, pid, queues, threads, start, last sign of life and running jobs of each."""
        live = await workers.live_workers(resources.pool, lease_seconds=resources.settings.lease_seconds)
        return WorkerList(items=live)


class ClusterHealthController(Controller):
    """The health of the whole cluster, for operators (the probes are /healthz and /readyz)."""

    path = "/v1/health"
    tags = ["operations"]
    guards = [requires(Scope.ADMIN)]

    @get("/", summary="Cluster health", responses={503: documented(HealthReport, "The cluster is down")})
    async def cluster_health(self, resources: Resources) -> Response[HealthReport]:
        """PostgreSQL and RabbitMQ round trips, the scheduler leader, workers and the oldest
        queued job per queue; 200 when `ok` or `degraded`, 503 when `down`."""
        report = await health(
            resources.pool, resources.management, resources.settings, amqp_connected=resources.publisher.ready
        )
        return Response(report, status_code=503 if report.status == "down" else 200)
