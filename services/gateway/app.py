"""The gateway's Litestar app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler, Middleware

from infra.broker import queue_declarations
from infra.controls import ControlsCache
from infra.db import create_pool
from infra.dispatch import Dispatcher
from infra.event_hub import EventHub
from infra.logging import configure_logging
from infra.publisher import Publisher
from infra.rabbitmq_admin import management_client
from infra.settings import Settings, load_settings
from schemas.contracts import Contracts, load_contracts
from services.gateway.artifacts import ArtifactController
from services.gateway.audit import AuditController
from services.gateway.auth import ApiKeyAuthentication, KeyCache
from services.gateway.context import RequestContext
from services.gateway.contract import publish_contract
from services.gateway.dead_letters import DeadLetterController
from services.gateway.deps import Resources, provide_resources
from services.gateway.engines import EngineController, engine_list
from services.gateway.errors import HANDLERS, document_errors
from services.gateway.events import EventController, end_streams_on_stop, events_socket
from services.gateway.health import HealthController
from services.gateway.jobs import JobController
from services.gateway.jobs_bulk import JobBulkController
from services.gateway.metrics import HttpMetrics, Metrics, MetricsController
from services.gateway.notifications import NotificationController
from services.gateway.queues import LimitsController, QueueController
from services.gateway.requests import GatewayRequest, KnownQueryOnly
from services.gateway.schedules import ScheduleController
from services.gateway.stats import StatsController
from services.gateway.subscriptions import SubscriptionController
from services.gateway.templates import TemplateController
from services.gateway.ui.render import template_config
from services.gateway.ui.routes import ui_handlers
from services.gateway.workers import ClusterHealthController, WorkerController
from services.gateway.workflows import WorkflowController

PUBLIC = [r"^/healthz$", r"^/readyz$", r"^/schema", r"^/metrics$"]
#: The docs UI's scripts and stylesheet (swagger-ui-dist), served by the gateway itself.
DOCS_ASSETS = Path(__file__).parent / "static" / "swagger"
#: Authenticated by the handler: a browser's WebSocket cannot send the key in a header; the
#: dashboard's pages by their session cookie (its static files need nothing).
SELF_AUTHENTICATED = [r"^/v1/ws$", r"^/ui(/|$)", r"^/static/"]


def create_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    publisher: Publisher | None = None,
    registry: Contracts | None = None,
) -> Litestar:
    """The gateway app; resources not given are opened at startup and closed at shutdown.

    With `metrics_enabled`, /metrics serves Prometheus figures from a registry of this app's own.
    """
    registry = registry or load_contracts(diagnostics=settings.diagnostics)
    metrics = Metrics(settings) if settings.metrics_enabled else None

    @asynccontextmanager
    async def resources(app: Litestar) -> AsyncIterator[None]:
        db = pool or await create_pool(settings, application_name="conveyor-gateway")
        pub = publisher or Publisher(settings.rabbitmq_url, queue_declarations(settings), name="conveyor-gateway")
        if publisher is None:
            pub.start()
            await pub.wait_ready(5.0)
        dispatcher = Dispatcher(db, pub, settings)
        dispatcher.start()
        management = management_client(settings)
        hub = EventHub(settings.database_url, capacity=settings.stream_buffer_events)
        hub.start()
        end_streams_on_stop(hub)
        app.state.resources = Resources(
            settings=settings,
            registry=registry,
            pool=db,
            publisher=pub,
            dispatcher=dispatcher,
            engines=engine_list(registry, settings),
            management=management,
            controls=ControlsCache(db),
            events=hub,
        )
        app.state.key_cache = KeyCache(db, ttl=settings.key_cache_seconds)
        app.state.metrics = metrics
        try:
            yield
        finally:
            await hub.close()
            await management.aclose()
            if metrics is not None:
                await metrics.cluster.close()
            await dispatcher.close()
            if publisher is None:
                await pub.stop()
            if pool is None:
                await db.close()

    handlers: list[ControllerRouterHandler] = [
        JobController,
        JobBulkController,
        ArtifactController,
        WorkflowController,
        ScheduleController,
        StatsController,
        EngineController,
        HealthController,
        QueueController,
        LimitsController,
        AuditController,
        WorkerController,
        ClusterHealthController,
        DeadLetterController,
        EventController,
        events_socket,
        SubscriptionController,
        TemplateController,
        NotificationController,
        *ui_handlers(),
    ]
    middleware: list[Middleware] = [RequestContext()]
    if metrics is not None:
        handlers.append(MetricsController)
        middleware.append(HttpMetrics(metrics))
    handlers.append(create_static_files_router("/schema/assets", [DOCS_ASSETS], include_in_schema=False))
    app = Litestar(
        route_handlers=handlers,
        dependencies={"resources": Provide(provide_resources, sync_to_thread=False)},
        middleware=[
            *middleware,
            DefineMiddleware(ApiKeyAuthentication, exclude=[*PUBLIC, *SELF_AUTHENTICATED]),
            KnownQueryOnly(),
        ],
        exception_handlers=HANDLERS,
        request_class=GatewayRequest,
        template_config=template_config(),
        lifespan=[resources],
        openapi_config=OpenAPIConfig(
            title="Conveyor",
            version="0.1.0",
            description="Submit and follow long-running AI-engine jobs.",
            path="/schema",
            render_plugins=[
                SwaggerRenderPlugin(
                    js_url="/schema/assets/swagger-ui-bundle.js",
                    css_url="/schema/assets/swagger-ui.css",
                    standalone_preset_js_url="/schema/assets/swagger-ui-standalone-preset.js",
                    favicon="<link rel='icon' type='image/png' href='/schema/assets/favicon-32x32.png'>",
                )
            ],
        ),
        request_max_body_size=settings.max_body_bytes,
        logging_config=None,
    )
    document_errors(app, public=[*PUBLIC, *SELF_AUTHENTICATED])
    publish_contract(app, registry)
    return app


def app_from_environment() -> Litestar:
    """The app configured from `CONVEYOR_*` variables (for `uvicorn --factory`)."""
    settings = load_settings()
    configure_logging(settings, process="gateway")
    return create_app(settings)
