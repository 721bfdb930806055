"""Engines (one RabbitMQ queue each) and the views that describe their operations."""

from __future__ import annotations

from typing import Any

import msgspec

#: Engine name → what it does. Each engine has its own priority queue of the same name.
ENGINES: dict[str, str] = {
    "text_intelligence": "Text generation, summarisation, classification and extraction.",
    "image_generation": "Image generation and editing.",
    "audio_generation": "Speech synthesis, music and audio processing.",
    "video_pipeline": "Video generation, transcoding and assembly.",
    "creative_assistant": "Ideation, briefs and creative variations.",
    "social_media_planner": "Post planning, scheduling copy and channel adaptation.",
    "discovery_analytics": "Trend discovery, analytics and reporting.",
    "general": "Diagnostics and general-purpose operations.",
}

#: The queue for outbound notifications (webhooks, e-mail); not an engine clients submit to.
NOTIFICATIONS = "notifications"

#: Queues of Conveyor's own, whose operations are internal.
INTERNAL_QUEUES: tuple[str, ...] = (NOTIFICATIONS,)

#: Every queue Conveyor declares, engines first.
QUEUES: tuple[str, ...] = (*ENGINES, NOTIFICATIONS)


class ErrorTypeView(msgspec.Struct, kw_only=True):
    """An error an operation's job may fail with, as `error.type` names it; `retry_on` may name it."""

    type: str
    #: transient (retried by default), permanent, timeout or worker_lost.
    category: str
    description: str


class OperationView(msgspec.Struct, kw_only=True):
    """An operation of an engine, with the JSON Schema of its params and result."""

    name: str
    description: str
    params_schema: dict[str, Any]
    result_schema: dict[str, Any]
    #: Params a first job could be submitted with.
    example: dict[str, Any] | None
    default_timeout_seconds: float | None
    #: Every error its jobs may fail with (`retry_on` chooses which are retried).
    errors: list[ErrorTypeView] = []


class EngineView(msgspec.Struct, kw_only=True):
    """An engine, its queue and its operations."""

    name: str
    description: str
    queue: str
    operations: list[OperationView]


class EngineList(msgspec.Struct):
    """Every engine."""

    engines: list[EngineView]
