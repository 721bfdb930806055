"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, Response, get

from infra.sql import QUERIES
from services.gateway.deps import Resources
from services.gateway.errors import documented


class Health(msgspec.Struct):
    """A probe's answer."""

    status: str
    checks: dict[str, str] = {}


class HealthController(Controller):
    """Probes for orchestrators; no API key needed."""

    tags = ["health"]

    @get("/healthz", summary="The process is up")
    async def healthz(self) -> Health:
        """Always 200 while the process serves requests."""
        return Health(status="ok")

    @get(
        "/readyz",
        summary="PostgreSQL and RabbitMQ are reachable",
        responses={503: documented(Health, "PostgreSQL or RabbitMQ is unreachable")},
    )
    async def readyz(self, resources: Resources) -> Response[Health]:
        """200 when PostgreSQL answers and the publisher is connected to RabbitMQ; 503 otherwise."""
        checks = {
            "postgres": await _postgres(resources),
            "rabbitmq": "ok" if resources.publisher.ready else "unreachable",
        }
        ready = all(value == "ok" for value in checks.values())
        return Response(
            Health(status="ready" if ready else "unavailable", checks=checks),
            status_code=200 if ready else 503,
        )


async def _postgres(resources: Resources) -> str:
    try:
        await asyncio.wait_for(resources.pool.fetchval(QUERIES.ping), 2.0)
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"
