"""Contracts of the `image_generation` engine: images drawn locally (Pillow), stored as the
job's artifacts, and images of earlier jobs resized."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta

from schemas.artifacts import EXAMPLE_JOB_ID, ArtifactInput, ArtifactView
from schemas.contracts import contract

Palette = Literal["midnight", "sunrise", "forest", "paper", "ocean"]
Colour = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")]
ImageFormat = Literal["png", "webp"]
#: What generated and resized images are stored as.
OutputFormat = Literal["png", "webp", "jpeg"]
ArtStyle = Literal["flow_field", "bauhaus", "landscape", "bokeh", "gradient_mesh"]
Fit = Literal["contain", "cover", "fill"]
ArtifactName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
Quality = Annotated[int, Meta(ge=1, le=100, description="WebP and JPEG quality (PNG is lossless)")]
Side = Annotated[int, Meta(ge=1, le=8192)]


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
    name: ArtifactName | None = None


class RenderedCard(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    width: int
    height: int
    format: ImageFormat
    #: The title as laid out, a line each.
    title_lines: list[str]
    #: The title's font size in pixels (the largest whose lines fit).
    title_size: int


class GenerateArtParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    style: ArtStyle = "flow_field"
    width: Annotated[int, Meta(ge=64, le=4096)] = 1024
    height: Annotated[int, Meta(ge=64, le=4096)] = 1024
    #: The same seed and params give the same bytes (on the same versions of Pillow and numpy);
    #: none: one derived from the job's id, given back in the result.
    seed: Annotated[int, Meta(ge=0, le=2**32 - 1)] | None = None
    palette: Palette = "midnight"
    #: Colours of your own instead of the palette's, the background first.
    colours: Annotated[list[Colour], Meta(min_length=2, max_length=8)] | None = None
    format: OutputFormat = "png"
    quality: Quality = 90
    #: The artifact's name (default `art.png`, `art.webp` or `art.jpg`).
    name: ArtifactName | None = None


class GeneratedArt(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    width: int
    height: int
    format: OutputFormat
    #: The seed it was drawn with: submit it again for the same image.
    seed: int
    style: ArtStyle
    #: The colours drawn with, the background first.
    colours: list[str]


class ResizeParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: An image (PNG, JPEG, WebP, GIF, BMP, TIFF…) of an earlier job: `{"$artifact": "<job id>/<name>"}`.
    image: ArtifactInput
    #: The box to fit; with one side only, the other keeps the image's aspect.
    width: Side | None = None
    height: Side | None = None
    #: With both sides: `contain` fits inside the box keeping the aspect, `cover` fills it
    #: and crops the overflow (centred), `fill` stretches to it.
    fit: Fit = "contain"
    #: Letterbox colour: with it, `contain` pads the image to exactly width × height.
    background: Colour | None = None
    #: None: the input's own format (PNG if it is not PNG, WebP or JPEG).
    format: OutputFormat | None = None
    quality: Quality = 90
    #: The artifact's name (default `resized.<png|webp|jpg>`).
    name: ArtifactName | None = None
    #: Published in the OpenAPI document: a width, a height or both; a background only with
    #: both and fit `contain`.
    schema_rules: ClassVar[dict[str, Any]] = {
        "allOf": [
            {
                "anyOf": [
                    {"required": [side], "properties": {side: {"type": "integer"}}} for side in ("width", "height")
                ]
            },
            {
                "anyOf": [
                    {"not": {"required": ["background"]}},
                    {"properties": {"background": {"type": "null"}}},
                    {
                        "required": ["width", "height"],
                        "properties": {
                            "width": {"type": "integer"},
                            "height": {"type": "integer"},
                            "fit": {"const": "contain"},
                        },
                    },
                ]
            },
        ]
    }

    def __post_init__(self) -> None:
        # located as msgspec locates its own errors, so that a 422 names the field
        if self.width is None and self.height is None:
            raise ValueError("give a width, a height or both - at `$.width`")
        if self.background is not None and (self.fit != "contain" or self.width is None or self.height is None):
            raise ValueError("a background letterboxes fit `contain` with both width and height - at `$.background`")


class ThumbnailParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: An image of an earlier job: `{"$artifact": "<job id>/<name>"}`.
    image: ArtifactInput
    #: Neither side of the thumbnail is longer (an image already smaller keeps its size).
    size: Annotated[int, Meta(ge=16, le=1024)] = 256
    #: None: the input's own format (PNG if it is not PNG, WebP or JPEG).
    format: OutputFormat | None = None
    quality: Quality = 85
    #: The artifact's name (default `thumbnail.<png|webp|jpg>`).
    name: ArtifactName | None = None


class ResizedImage(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    width: int
    height: int
    format: OutputFormat
    #: The input's size (after its EXIF orientation) and format as Pillow names it (`png`, `gif`…).
    source_width: int
    source_height: int
    source_format: str


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

GENERATE_ART = contract(
    "image_generation",
    "generate_art",
    params=GenerateArtParams,
    result=GeneratedArt,
    description=(
        "A generative image, drawn from a seed: a flow field, Bauhaus shapes, a noise landscape, bokeh "
        "circles or a gradient mesh, in a palette or colours of your own; the same seed and params give "
        "the same bytes. PNG, WebP or JPEG, stored as the job's artifact."
    ),
    example={"style": "landscape", "width": 800, "height": 450, "seed": 42, "palette": "sunrise"},
    timeout_seconds=300,
)

RESIZE = contract(
    "image_generation",
    "resize",
    params=ResizeParams,
    result=ResizedImage,
    description=(
        "An image of an earlier job resized to a width, a height or a box (contain, letterboxed or not; "
        "cover, cropped; fill, stretched), kept in its format or converted to PNG, WebP or JPEG."
    ),
    example={
        "image": {"$artifact": f"{EXAMPLE_JOB_ID}/card.png"},
        "width": 600,
        "height": 600,
        "fit": "cover",
        "format": "webp",
    },
    timeout_seconds=120,
)

THUMBNAIL = contract(
    "image_generation",
    "thumbnail",
    params=ThumbnailParams,
    result=ResizedImage,
    description="A thumbnail of an image of an earlier job: no side longer than `size`, the aspect kept.",
    example={"image": {"$artifact": f"{EXAMPLE_JOB_ID}/card.png"}, "size": 256},
    timeout_seconds=60,
)
