"""Contracts of the `image_generation` engine: images drawn locally (Pillow), stored as the
job's artifacts."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.artifacts import ArtifactView
from schemas.contracts import contract

Palette = Literal["midnight", "sunrise", "forest", "paper", "ocean"]
Colour = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")]
ImageFormat = Literal["png", "webp"]


class RenderCardParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Annotated[str, Meta(min_length=1, max_length=300)]
    #: A quote, subtitle or byline under the title.
    subtitle: Annotated[str, Meta(min_length=1, max_length=600)] | None = None
    width: Annotated[int, Meta(ge=200, le=4096)] = 1200
    height: Annotated[int, Meta(ge=200, le=4096)] = 630
    palette: Palette = "midnight"
    #: Colours of your own, over the palette's.
    background: Colour | None = None
    foreground: Colour | None = None
    accent: Colour | None = None
    format: ImageFormat = "png"
    #: The artifact's name (default `card.png` or `card.webp`).
    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")] | None = None


class RenderedCard(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    width: int
    height: int
    format: ImageFormat
    #: The title as laid out, a line each.
    title_lines: list[str]
    #: The title's font size in pixels (the largest whose lines fit).
    title_size: int


RENDER_CARD = contract(
    "image_generation",
    "render_card",
    params=RenderCardParams,
    result=RenderedCard,
    description=(
        "A title or quote card (Open Graph size by default): the title wrapped and sized to fill the card, a "
        "subtitle, a palette or colours of your own; PNG or WebP, stored as the job's artifact."
    ),
    example={"title": "Background jobs, done right", "subtitle": "Conveyor · release notes", "palette": "ocean"},
    timeout_seconds=120,
)
