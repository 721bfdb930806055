"""/v1/queues and /v1/limits (admin): queue figures, pause and resume, concurrency and backlog limits."""

from __future__ import annotations

from typing import Annotated

import asyncpg
import msgspec
from litestar import Controller, get, post, put
from litestar.di import Provide
from litestar.params import Parameter

from infra import controls
from infra.keys import Principal
from schemas.engines import QUEUES
from schemas.keys import Scope
from schemas.operations import GLOBAL, LimitsUpdate, LimitsView, QueueList, QueueView
from services.gateway.auth import requires
from services.gateway.deps import Resources, provide_principal
from services.gateway.errors import ApiError
from services.operations import engine_of, queue_views

QueueName = Annotated[str, Parameter(description="The queue: its engine's name, or its RabbitMQ name")]


def who(principal: Principal) -> str:
    """How the audit log and control rows name the key that acted."""
    return f"{principal.tenant}/{principal.key_id}"


def limits_view(row: asyncpg.Record | None) -> LimitsView:
    """A control row's limits (none if there is no row)."""
    if row is None:
        return LimitsView(max_concurrency=None, max_backlog=None)
    return LimitsView(
        max_concurrency=row["max_concurrency"],
        max_backlog=row["max_backlog"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


def known_queue(resources: Resources, name: str) -> str:
    """The engine of a queue name; 404 if there is no such queue."""
    engine = engine_of(resources.settings, name)
    if engine is None:
        raise ApiError(404, "queue_not_found", f"no queue {name!r}; queues: {', '.join(QUEUES)}")
    return engine


async def set_limits(
    resources: Resources, principal: Principal, queue: str, data: LimitsUpdate, action: str
) -> LimitsView:
    """Change limits in the same transaction as its audit entry."""
    async with resources.pool.acquire() as conn, conn.transaction():
        before = limits_view(await controls.get_control(conn, queue))
        after = limits_view(await controls.set_limits(conn, queue, data, who=who(principal)))
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        details = {
            "set": changes,
            "before": {"max_concurrency": before.max_concurrency, "max_backlog": before.max_backlog},
        }
        await controls.audit(
            conn, tenant=principal.tenant, key_id=principal.key_id, action=action, target=queue, details=details
        )
    return after


class QueueController(Controller):
    """Every engine's queue, as RabbitMQ and PostgreSQL see it; pause, resume and limits."""

    path = "/v1/queues"
    tags = ["operations"]
    guards = [requires(Scope.ADMIN)]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", summary="Every queue")
    async def list_queues(self, resources: Resources) -> QueueList:
        """Messages (ready, unacked, dead, delayed) and consumers from RabbitMQ; jobs, controls and
        pace from PostgreSQL."""
        return QueueList(items=await queue_views(resources.pool, resources.management, resources.settings))

    @get("/{name:str}", summary="One queue")
    async def get_queue(self, name: QueueName, resources: Resources) -> QueueView:
        """One queue's figures; 404 if there is no such queue."""
        engine = known_queue(resources, name)
        [view] = await queue_views(resources.pool, resources.management, resources.settings, [engine])
        return view

    @post("/{name:str}/pause", summary="Pause a queue", status_code=200)
    async def pause(self, name: QueueName, resources: Resources, principal: Principal) -> QueueView:
        """No job of the queue starts (within 2 s, on every worker); running ones finish; its
        messages stay in RabbitMQ. Holds across restarts until resumed."""
        return await self._set_paused(name, True, resources, principal)

    @post("/{name:str}/resume", summary="Resume a queue", status_code=200)
    async def resume(self, name: QueueName, resources: Resources, principal: Principal) -> QueueView:
        """The queue's jobs run again, in priority order."""
        return await self._set_paused(name, False, resources, principal)

    async def _set_paused(self, name: str, paused: bool, resources: Resources, principal: Principal) -> QueueView:
        engine = known_queue(resources, name)
        async with resources.pool.acquire() as conn, conn.transaction():
            await controls.set_paused(conn, engine, paused, who=who(principal))
            action = "queue.pause" if paused else "queue.resume"
            await controls.audit(
                conn, tenant=principal.tenant, key_id=principal.key_id, action=action, target=engine, details={}
            )
        [view] = await queue_views(resources.pool, resources.management, resources.settings, [engine])
        return view

    @get("/{name:str}/limits", summary="A queue's limits")
    async def get_limits(self, name: QueueName, resources: Resources) -> LimitsView:
        """The queue's max_concurrency and max_backlog (null: none)."""
        return limits_view(await controls.get_control(resources.pool, known_queue(resources, name)))

    @put("/{name:str}/limits", summary="Set a queue's limits")
    async def put_limits(
        self, name: QueueName, data: LimitsUpdate, resources: Resources, principal: Principal
    ) -> LimitsView:
        """At most max_concurrency jobs of the queue run at once, over all workers and hosts
        (applied within 2 s); at max_backlog queued and scheduled jobs, submissions answer 429.
        A field left out keeps its value; null removes the limit."""
        return await set_limits(resources, principal, known_queue(resources, name), data, "queue.limits")


class LimitsController(Controller):
    """Limits over all queues together."""

    path = "/v1/limits"
    tags = ["operations"]
    guards = [requires(Scope.ADMIN)]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @get("/", summary="The global limits")
    async def get_limits(self, resources: Resources) -> LimitsView:
        """max_concurrency over all queues (null: none); max_backlog over all queues."""
        return limits_view(await controls.get_control(resources.pool, GLOBAL))

    @put("/", summary="Set the global limits")
    async def put_limits(self, data: LimitsUpdate, resources: Resources, principal: Principal) -> LimitsView:
        """At most max_concurrency jobs run at once over all queues; at max_backlog queued and
        scheduled jobs in all queues, submissions answer 429."""
        return await set_limits(resources, principal, GLOBAL, data, "limits")
