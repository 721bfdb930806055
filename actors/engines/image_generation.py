"""The `image_generation` engine: images drawn locally with Pillow (and numpy), and images of
earlier jobs resized, stored as artifacts (contracts in schemas/contracts/image_generation.py).

Every operation stores its image through `save_image` (one encoder: format → content type and
options); inputs are read by `decode`, which refuses what is not an image or is too large.
"""

from __future__ import annotations

import concurrent.futures
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from actors.art import PALETTES, RGB, art_colours, draw_art, scaled_size
from actors.sdk import JobContext, PermanentError, operation
from schemas.artifacts import ArtifactView
from schemas.contracts.image_generation import (
    GENERATE_ART,
    RENDER_CARD,
    RESIZE,
    THUMBNAIL,
    Fit,
    GenerateArtParams,
    GeneratedArt,
    OutputFormat,
    RenderCardParams,
    RenderedCard,
    ResizedImage,
    ResizeParams,
    ThumbnailParams,
)

#: Space around the text, as a share of the card's smaller side.
MARGIN = 0.08
#: The title may take up to this share of the height left inside the margins.
TITLE_SHARE = 0.7
#: Line height, as a multiple of the font size.
LEADING = 1.2
#: The largest input decoded (width × height), below Pillow's own bomb limit.
MAX_INPUT_PIXELS = 50_000_000
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSIONS: dict[str, str] = {"png": "png", "webp": "webp", "jpeg": "jpg"}
#: Pillow's format names of inputs kept as they are by `format: null` (MPO: a camera's JPEG).
KEPT_FORMATS: dict[str, OutputFormat] = {"png": "png", "webp": "webp", "jpeg": "jpeg", "mpo": "jpeg"}
#: PNGs up to this many pixels are optimised (slow: 13 s at 4096 × 4096), larger ones not.
OPTIMISED_PNG_PIXELS = 4_200_000
T = TypeVar("T")


# -- decoding and encoding, shared by every operation -------------------------------------------


def encode(image: Image.Image, fmt: OutputFormat, quality: int = 90) -> bytes:
    """`image` as PNG (optimised unless large), WebP or JPEG (at `quality`); JPEG has no alpha,
    so a transparent image is laid on white."""
    if fmt == "jpeg" and image.mode not in ("RGB", "L"):
        image = flatten(image, (255, 255, 255))
    options: dict[str, object] = {"quality": quality}
    if fmt == "png":
        options = {"optimize": True} if image.width * image.height <= OPTIMISED_PNG_PIXELS else {}
    out = io.BytesIO()
    image.save(out, format=fmt.upper(), **options)
    return out.getvalue()


def save_image(
    ctx: JobContext, image: Image.Image, fmt: OutputFormat, quality: int, name: str | None, stem: str
) -> ArtifactView:
    """Encode `image` and store it as the job's artifact `name` (default `<stem>.<extension>`)."""
    data = offload(ctx, lambda: encode(image, fmt, quality), 0.85, f"encoding {fmt}")
    ctx.progress(0.95, "storing")
    return ctx.save_artifact(name or f"{stem}.{EXTENSIONS[fmt]}", data, CONTENT_TYPES[fmt])


def offload(ctx: JobContext, work: Callable[[], T], fraction: float, message: str) -> T:
    """`work()` on a thread of its own (one long call into Pillow), the job's progress reported
    and its cancellation checked meanwhile, four times a second; a cancelled job returns at
    once and leaves the thread to finish and be dropped."""
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="image")
    try:
        future = executor.submit(work)
        while True:
            ctx.raise_if_cancelled()
            ctx.progress(fraction, message)
            try:
                return future.result(timeout=0.25)
            except concurrent.futures.TimeoutError:
                continue
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def flatten(image: Image.Image, background: RGB) -> Image.Image:
    """`image` laid on an opaque background, as RGB."""
    rgba = image.convert("RGBA")
    base = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(base, rgba).convert("RGB")


def decode(path: Path, label: str, max_pixels: int = MAX_INPUT_PIXELS) -> tuple[Image.Image, str]:
    """The image in file `path` (its first frame, turned as its EXIF says) as RGB, or RGBA when
    it has transparency, and its format as Pillow names it (`png`, `jpeg`, `gif`…).

    Raises PermanentError (naming `label`) for a file that is not an image Pillow decodes, and
    for an image of more than `max_pixels` pixels, before decoding its pixels.
    """
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            if width * height > max_pixels:
                raise PermanentError(f"{label} is {width} × {height} pixels, more than {max_pixels:,}")
            fmt = (opened.format or "unknown").lower()
            turned = eight_bit(ImageOps.exif_transpose(opened))
            image = turned.convert("RGBA" if turned.has_transparency_data else "RGB")
    except UnidentifiedImageError:
        raise PermanentError(f"{label} is not an image Pillow reads (PNG, JPEG, WebP, GIF, TIFF…)") from None
    # a bomb past Pillow's own limit; Pillow's words for truncated or corrupt data
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, OSError, ValueError, SyntaxError) as exc:
        raise PermanentError(f"{label} could not be decoded: {exc}") from None
    return image, fmt


def eight_bit(image: Image.Image) -> Image.Image:
    """A 16- or 32-bit grey image (a 16-bit PNG, a TIFF) as 8-bit grey, as Pillow's conversion to
    RGB would not: it clips such values to white."""
    if image.mode != "I" and not image.mode.startswith("I;16"):
        return image
    return Image.fromarray((np.asarray(image, np.float32) / 257).clip(0, 255).astype(np.uint8))


def open_input(ctx: JobContext, params: ResizeParams | ThumbnailParams) -> tuple[Image.Image, str]:
    """Fetch and decode the params' input image (see `decode`)."""
    ctx.progress(0.05, "fetching the image")
    fetched = ctx.fetch_artifact(params.image)
    return offload(ctx, lambda: decode(fetched.path, f"artifact {fetched.ref}"), 0.3, "decoding")


# -- render_card ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's own scalable font (no font files needed) at `size` pixels, loaded once a size
    (the layout tries many)."""
    return ImageFont.load_default(size=size)


def wrap(text: str, face: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    """`text` in lines no wider than `width` (a word too long for a line gets a line of its own)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [text]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and face.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return [line for line in lines if line] or [text.strip()]


def layout(text: str, width: float, height: float, largest: int) -> tuple[int, list[str]]:
    """The largest font size (down from `largest`) whose wrapped lines fit `width` × `height`."""
    size = largest
    while size > 8:
        face = font(size)
        lines = wrap(text, face, width)
        if len(lines) * size * LEADING <= height and all(face.getlength(line) <= width for line in lines):
            return size, lines
        size = int(size * 0.9)
    return 8, wrap(text, font(8), width)


@operation(RENDER_CARD)
def render_card(ctx: JobContext, p: RenderCardParams) -> RenderedCard:
    """A title card, stored as the job's artifact."""
    background, foreground, accent = PALETTES[p.palette]
    background, foreground, accent = p.background or background, p.foreground or foreground, p.accent or accent
    margin = int(min(p.width, p.height) * MARGIN)
    inner_w, inner_h = p.width - 2 * margin, p.height - 2 * margin
    ctx.progress(0.1, "laying out the title")
    sub_size = max(12, int(min(p.width, p.height) * 0.045))
    sub_lines = wrap(p.subtitle, font(sub_size), inner_w) if p.subtitle else []
    sub_height = int(len(sub_lines) * sub_size * LEADING)
    title_room = (inner_h - sub_height - (sub_size if sub_lines else 0)) * (TITLE_SHARE if sub_lines else 1.0)
    title_size, title_lines = layout(p.title, inner_w, max(title_room, 16), largest=int(p.height * 0.2))
    ctx.raise_if_cancelled()
    ctx.progress(0.5, "drawing")
    image = Image.new("RGB", (p.width, p.height), background)
    draw = ImageDraw.Draw(image)
    bar = max(4, margin // 6)
    draw.rectangle((margin, margin - bar * 2, margin + inner_w // 5, margin - bar), fill=accent)
    y = float(margin)
    title_face = font(title_size)
    for line in title_lines:
        draw.text((margin, y), line, font=title_face, fill=foreground)
        y += title_size * LEADING
    if sub_lines:
        y = max(y + sub_size, p.height - margin - sub_height)
        sub_face = font(sub_size)
        for line in sub_lines:
            draw.text((margin, y), line, font=sub_face, fill=accent)
            y += sub_size * LEADING
    artifact = save_image(ctx, image, p.format, 90, p.name, "card")
    return RenderedCard(
        artifact=artifact,
        width=p.width,
        height=p.height,
        format=p.format,
        title_lines=title_lines,
        title_size=title_size,
    )


# -- resize and thumbnail -----------------------------------------------------------------------


def resized(image: Image.Image, width: int | None, height: int | None, fit: Fit, background: RGB | None) -> Image.Image:
    """`image` resized (Lanczos) to `width` and/or `height` as `fit` says (see ResizeParams)."""
    lanczos = Image.Resampling.LANCZOS
    if width is None or height is None or fit == "contain":
        size = scaled_size(*image.size, width, height)
        if background is None or width is None or height is None:
            return image.resize(size, lanczos, reducing_gap=3.0)
        fill = (*background, 255) if image.mode == "RGBA" else background
        return ImageOps.pad(image, (width, height), lanczos, color=fill)
    if fit == "cover":
        return ImageOps.fit(image, (width, height), lanczos)
    return image.resize((width, height), lanczos, reducing_gap=3.0)


def thumbnailed(image: Image.Image, size: int) -> Image.Image:
    """`image` shrunk (never enlarged) so neither side is longer than `size`, aspect kept."""
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return copy


@operation(RESIZE)
def resize(ctx: JobContext, p: ResizeParams) -> ResizedImage:
    """An input image resized, stored as the job's artifact."""
    image, source = open_input(ctx, p)
    background = ImageColor.getrgb(p.background)[:3] if p.background else None
    out = offload(ctx, lambda: resized(image, p.width, p.height, p.fit, background), 0.5, "resizing")
    return store_resized(ctx, p, out, image, source, "resized")


@operation(THUMBNAIL)
def thumbnail(ctx: JobContext, p: ThumbnailParams) -> ResizedImage:
    """A thumbnail of an input image, stored as the job's artifact."""
    image, source = open_input(ctx, p)
    out = offload(ctx, lambda: thumbnailed(image, p.size), 0.5, "shrinking")
    return store_resized(ctx, p, out, image, source, "thumbnail")


def store_resized(
    ctx: JobContext, p: ResizeParams | ThumbnailParams, out: Image.Image, image: Image.Image, source: str, stem: str
) -> ResizedImage:
    """`out`, made from the input `image` (of format `source`), stored as the params ask."""
    fmt = p.format or KEPT_FORMATS.get(source, "png")
    artifact = save_image(ctx, out, fmt, p.quality, p.name, stem)
    return ResizedImage(artifact=artifact, width=out.width, height=out.height, format=fmt,
                        source_width=image.width, source_height=image.height, source_format=source)  # fmt: skip


# -- generate_art ---------------------------------------------------------------------------------


@operation(GENERATE_ART)
def generate_art(ctx: JobContext, p: GenerateArtParams) -> GeneratedArt:
    """A generative image, stored as the job's artifact."""
    seed = p.seed if p.seed is not None else ctx.job_id.int % 2**32
    colours = art_colours(p.palette, p.colours)

    def tick(fraction: float, message: str) -> None:
        ctx.raise_if_cancelled()
        ctx.progress(0.05 + 0.75 * fraction, message)

    image = draw_art(p.style, p.width, p.height, seed, colours, tick)
    artifact = save_image(ctx, image, p.format, p.quality, p.name, "art")
    return GeneratedArt(artifact=artifact, width=image.width, height=image.height, format=p.format,
                        seed=seed, style=p.style, colours=colours)  # fmt: skip
