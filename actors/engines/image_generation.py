"""The `image_generation` engine: images drawn locally with Pillow and stored as artifacts
(contracts in schemas/contracts/image_generation.py)."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw, ImageFont

from actors.sdk import JobContext, operation
from schemas.contracts.image_generation import RENDER_CARD, RenderCardParams, RenderedCard

#: Palette → (background, foreground, accent).
PALETTES: dict[str, tuple[str, str, str]] = {
    "midnight": ("#101828", "#f9fafb", "#7c3aed"),
    "sunrise": ("#fff4e6", "#3b1f0b", "#f97316"),
    "forest": ("#0f2e1d", "#ecfdf3", "#4ade80"),
    "paper": ("#fafaf7", "#1f2933", "#2563eb"),
    "ocean": ("#082f49", "#f0f9ff", "#38bdf8"),
}
#: Space around the text, as a share of the card's smaller side.
MARGIN = 0.08
#: The title may take up to this share of the height left inside the margins.
TITLE_SHARE = 0.7
#: Line height, as a multiple of the font size.
LEADING = 1.2


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
    out = io.BytesIO()
    image.save(out, format=p.format.upper(), **({"optimize": True} if p.format == "png" else {"quality": 90}))
    ctx.progress(0.9, "storing")
    name = p.name or f"card.{p.format}"
    artifact = ctx.save_artifact(name, out.getvalue(), f"image/{p.format}")
    return RenderedCard(
        artifact=artifact,
        width=p.width,
        height=p.height,
        format=p.format,
        title_lines=title_lines,
        title_size=title_size,
    )
