"""GET /v1/engines: every engine, its queue, and its operations' JSON Schemas."""

from __future__ import annotations

from litestar import Controller, get

from infra.settings import Settings
from schemas.contracts import Contracts
from schemas.engines import ENGINES, EngineList, EngineView, ErrorTypeView, OperationView
from schemas.keys import Scope
from services.gateway.auth import requires
from services.gateway.deps import Resources


def engine_list(registry: Contracts, settings: Settings) -> EngineList:
    """The engines and their operations as the API shows them."""
    return EngineList(
        engines=[
            EngineView(
                name=name,
                description=description,
                queue=settings.queue_name(name),
                operations=[
                    OperationView(
                        name=op.name,
                        description=op.description,
                        params_schema=op.params_schema(),
                        result_schema=op.result_schema(),
                        example=op.example,
                        default_timeout_seconds=op.timeout_seconds,
                        errors=[
                            ErrorTypeView(type=e.name, category=e.category, description=e.description)
                            for e in op.error_types
                        ],
                    )
                    for op in registry.operations(name)
                ],
            )
            for name, description in ENGINES.items()
        ]
    )


class EngineController(Controller):
    """What can be submitted."""

    path = "/v1/engines"
    tags = ["engines"]
    guards = [requires(Scope.JOBS_READ)]

    @get("/", summary="List engines and their operations")
    async def list_engines(self, resources: Resources) -> EngineList:
        """Every engine with its queue and the JSON Schema of each operation's params and result."""
        return resources.engines
