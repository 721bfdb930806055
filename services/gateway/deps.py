"""What route handlers are given: the resources the app was built with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from litestar import Request
from litestar.datastructures import State

from infra.controls import ControlsCache
from infra.dispatch import Dispatcher
from infra.event_hub import EventHub
from infra.keys import Principal
from infra.publisher import Publisher
from infra.settings import Settings
from schemas.contracts import Contracts
from schemas.engines import EngineList


@dataclass
class Resources:
    """The gateway's shared resources (set on app.state by the lifespan)."""

    settings: Settings
    registry: Contracts
    pool: asyncpg.Pool
    publisher: Publisher
    dispatcher: Dispatcher
    engines: EngineList
    #: A client of RabbitMQ's management API.
    management: httpx.AsyncClient
    #: Queue controls, read at most once a second (backpressure on submissions).
    controls: ControlsCache
    #: This process's reader of the event log, for streams.
    events: EventHub


def provide_resources(state: State) -> Resources:
    """The app's resources."""
    resources: Resources = state.resources
    return resources


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    """Who the request acts for (set by ApiKeyAuthentication)."""
    return request.user
