"""Generative art drawn with Pillow and numpy: five styles (flow_field, bauhaus, landscape,
bokeh, gradient_mesh), each a function of a seeded random generator, a size and colours, so that
the same seed gives the same pixels (`draw_art`); and the named palettes they (and the
image_generation engine's cards) are drawn in. That engine's `generate_art` stores them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFilter

from schemas.contracts.image_generation import ArtStyle

RGB = tuple[int, int, int]
#: Reports progress (0–1 of the drawing) and is a cancellation point.
Tick = Callable[[float, str], None]

#: Palette → (background, foreground, accent).
PALETTES: dict[str, tuple[str, str, str]] = {
    "midnight": ("#101828", "#f9fafb", "#7c3aed"),
    "sunrise": ("#fff4e6", "#3b1f0b", "#f97316"),
    "forest": ("#0f2e1d", "#ecfdf3", "#4ade80"),
    "paper": ("#fafaf7", "#1f2933", "#2563eb"),
    "ocean": ("#082f49", "#f0f9ff", "#38bdf8"),
}
#: Palette → two more colours for generated art, after the three of a card.
ART_EXTRAS: dict[str, tuple[str, str]] = {
    "midnight": ("#2e90fa", "#f472b6"),
    "sunrise": ("#fb7185", "#facc15"),
    "forest": ("#166534", "#a3e635"),
    "paper": ("#dc2626", "#facc15"),
    "ocean": ("#0e7490", "#fde68a"),
}


def art_colours(palette: str, colours: list[str] | None) -> list[str]:
    """The colours to draw with, the background first: your own, or the palette's five."""
    return list(colours) if colours else [*PALETTES[palette], *ART_EXTRAS[palette]]


def draw_art(style: ArtStyle, width: int, height: int, seed: int, colours: list[str], tick: Tick) -> Image.Image:
    """A `style` image of `width` × `height` in `colours` (the background first), drawn from
    `seed`: the same arguments give the same pixels. `tick` is called as drawing goes on."""
    rng = np.random.default_rng(seed)
    rgb = [ImageColor.getrgb(c)[:3] for c in colours]
    return STYLES[style](rng, width, height, rgb, tick)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    """The colour `t` of the way from `a` to `b`."""
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def supersampling(width: int, height: int) -> int:
    """How many times larger to draw shapes before shrinking (smooth edges), memory allowing."""
    return 2 if width * height <= 2048 * 2048 else 1


def noise(rng: np.random.Generator, width: int, height: int, cells: int, octaves: int = 4) -> np.ndarray:
    """Smooth fractal noise in 0…1 of shape (height, width): random grids of `cells` across
    (doubling each octave, each half as strong) upsampled bicubically and summed."""
    total = np.zeros((height, width), np.float32)
    for octave in range(octaves):
        across = cells * 2**octave
        grid = rng.random((max(2, round(across * height / width)) + 1, across + 1), dtype=np.float32)
        total += np.asarray(Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)) / 2**octave
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)


def gradient(width: int, height: int, top: RGB, bottom: RGB, angle: float = 0.0) -> Image.Image:
    """A linear gradient from `top` to `bottom`, tilted by `angle` radians (worked out small,
    then enlarged: it is smooth)."""
    w, h = scaled_size(width, height, 256, 256)
    ys, xs = np.arange(h, dtype=np.float32)[:, None] / h, np.arange(w, dtype=np.float32)[None, :] / w
    t = ys * math.cos(angle) + xs * math.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    mask = Image.fromarray((t * 255).round().astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC)
    return Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), mask)


def flow_field(rng: np.random.Generator, width: int, height: int, colours: list[RGB], tick: Tick) -> Image.Image:
    """Strokes that follow the angles of a noise field."""
    k = supersampling(width, height)
    w, h = width * k, height * k
    field = noise(rng, max(w // 4, 2), max(h // 4, 2), cells=int(rng.integers(2, 5)), octaves=3)
    field *= np.float32(2 * math.pi * rng.uniform(1.0, 2.5))
    count, steps, step = min(6000, width * height // 250), 60, min(w, h) / 220
    points = np.empty((steps + 1, count, 2), np.float32)
    points[0] = rng.random((count, 2), dtype=np.float32) * np.array([w, h], np.float32)
    for s in range(steps):
        ix = np.clip(points[s, :, 0] // 4, 0, field.shape[1] - 1).astype(np.intp)
        iy = np.clip(points[s, :, 1] // 4, 0, field.shape[0] - 1).astype(np.intp)
        angles = field[iy, ix]
        points[s + 1] = points[s] + step * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    image = Image.new("RGB", (w, h), colours[0])
    draw = ImageDraw.Draw(image, "RGBA")
    inks = rng.integers(1, len(colours), count)
    alphas, widths = rng.integers(90, 230, count), rng.uniform(0.6, 2.2, count) * max(1.0, min(w, h) / 500)
    for i in range(count):
        if i % 250 == 0:
            tick(i / count, "drawing strokes")
        draw.line(points[:, i].ravel().tolist(), fill=(*colours[inks[i]], int(alphas[i])), width=round(widths[i]))
    return image.resize((width, height), Image.Resampling.LANCZOS) if k > 1 else image


def bauhaus(rng: np.random.Generator, width: int, height: int, colours: list[RGB], tick: Tick) -> Image.Image:
    """A grid of squares, each with a circle, half or quarter circle, triangle or bars."""
    k = supersampling(width, height)
    cell = math.ceil(min(width, height) * k / int(rng.integers(3, 7)))
    cols, rows = math.ceil(width * k / cell), math.ceil(height * k / cell)
    image = Image.new("RGB", (width * k, height * k), colours[0])
    for row in range(rows):
        tick(row / rows, "drawing shapes")
        for col in range(cols):
            back, ink = (colours[int(i)] for i in rng.choice(len(colours), 2, replace=False))
            tile = Image.new("RGB", (cell, cell), back)  # what is drawn past its edges is cut off
            shape(ImageDraw.Draw(tile), int(rng.integers(0, 6)), int(rng.integers(0, 4)), cell, ink)
            image.paste(tile, (col * cell, row * cell))
    return image.resize((width, height), Image.Resampling.LANCZOS) if k > 1 else image


def shape(draw: ImageDraw.ImageDraw, kind: int, turn: int, cell: int, ink: RGB) -> None:
    """One Bauhaus shape of `kind` on a `cell`-sized tile, turned `turn` quarters."""
    corners = [(0, 0), (cell, 0), (cell, cell), (0, cell)]
    if kind == 0:  # a quarter circle about a corner
        cx, cy = corners[turn]
        draw.ellipse((cx - cell, cy - cell, cx + cell, cy + cell), fill=ink)
    elif kind == 1:  # a half circle on a side
        mx, my = [(cell / 2, 0), (cell, cell / 2), (cell / 2, cell), (0, cell / 2)][turn]
        draw.ellipse((mx - cell / 2, my - cell / 2, mx + cell / 2, my + cell / 2), fill=ink)
    elif kind == 2:  # a circle
        draw.ellipse((cell * 0.15, cell * 0.15, cell * 0.85, cell * 0.85), fill=ink)
    elif kind == 3:  # a triangle: half the tile, cut on a diagonal
        draw.polygon([corners[turn], corners[(turn + 1) % 4], corners[(turn + 2) % 4]], fill=ink)
    elif kind == 4:  # three bars
        for top in (cell * 0.1, cell * 0.4, cell * 0.7):
            draw.rectangle((cell * 0.1, top, cell * 0.9, top + cell * 0.18), fill=ink)
    else:  # a small square
        draw.rectangle((cell * 0.3, cell * 0.3, cell * 0.7, cell * 0.7), fill=ink)


def landscape(rng: np.random.Generator, width: int, height: int, colours: list[RGB], tick: Tick) -> Image.Image:
    """A sky, a sun and ridges of noise fading into the haze."""
    k = supersampling(width, height)
    w, h = width * k, height * k
    horizon = mix(colours[0], colours[2 % len(colours)], 0.45)
    ground = mix(min(colours, key=sum), (0, 0, 0), 0.4)
    image = gradient(w, h, colours[0], horizon).convert("RGBA")
    radius = min(w, h) * rng.uniform(0.06, 0.11)
    sx, sy, edge = w * rng.uniform(0.2, 0.8), h * rng.uniform(0.15, 0.4), int(radius * 1.5)
    sun = Image.new("RGBA", (2 * edge, 2 * edge), (0, 0, 0, 0))  # only around the sun: blurring is costly
    ImageDraw.Draw(sun).ellipse((edge - radius, edge - radius, edge + radius, edge + radius), fill=(*colours[-1], 235))
    glow = sun.convert("RGBa").filter(ImageFilter.GaussianBlur(radius * 0.08)).convert("RGBA")
    image.alpha_composite(glow, (int(sx) - edge, int(sy) - edge))
    tick(0.2, "drawing ridges")
    layers = int(rng.integers(4, 7))
    for layer in range(layers):
        tick(0.2 + 0.8 * layer / layers, "drawing ridges")
        ridge = noise(rng, w, 1, cells=int(rng.integers(3, 7)) * (layer + 1), octaves=4)[0]
        base, amplitude = h * (0.45 + 0.45 * layer / layers), h * (0.25 - 0.15 * layer / layers)
        xs = np.arange(0, w + 1, max(1, w // 800))
        tops = base - ridge[np.minimum(xs, w - 1)] * amplitude
        outline = [(0.0, float(h)), *zip(xs.tolist(), tops.tolist(), strict=True), (float(w), float(h))]
        ImageDraw.Draw(image).polygon(outline, fill=(*mix(horizon, ground, (layer + 1) / layers), 255))
    out = image.convert("RGB")
    return out.resize((width, height), Image.Resampling.LANCZOS) if k > 1 else out


def bokeh(rng: np.random.Generator, width: int, height: int, colours: list[RGB], tick: Tick) -> Image.Image:
    """Soft, translucent circles out of focus, far ones small, near ones large. Each layer is
    drawn and blurred at most 1024 pixels wide, then enlarged (it is blurred anyway)."""
    dark = mix(min(colours, key=sum), (0, 0, 0), 0.3)
    image = gradient(width, height, colours[0], dark, angle=float(rng.uniform(-0.8, 0.8))).convert("RGBA")
    w, h = scaled_size(width, height, 1024, 1024) if max(width, height) > 1024 else (width, height)
    side, layers = min(w, h), 4
    for layer in range(layers):
        tick(layer / layers, "drawing circles")
        sheet = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(sheet)
        for _ in range(int(rng.integers(10, 30))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            r = side * rng.uniform(0.02, 0.06) * (1 + layer)
            ink = colours[int(rng.integers(1, len(colours)))]
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(*ink, int(rng.integers(50, 150))))
        blur = ImageFilter.GaussianBlur(side * (0.004 + 0.01 * abs(layer - 1) ** 1.5))
        sheet = sheet.convert("RGBa").filter(blur).convert("RGBA")  # premultiplied: no dark fringes
        image.alpha_composite(
            sheet.resize((width, height), Image.Resampling.BICUBIC) if (w, h) != (width, height) else sheet
        )
    return image.convert("RGB")


def gradient_mesh(rng: np.random.Generator, width: int, height: int, colours: list[RGB], tick: Tick) -> Image.Image:
    """Colours blended smoothly between points placed at random, warped by noise, with grain."""
    scale = 256 / max(width, height)
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    count = len(colours) + 2
    where = rng.random((count, 2))
    inks = np.asarray([colours[i % len(colours)] for i in range(count)], np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = xs / w + 0.25 * (noise(rng, w, h, 2, 2) - 0.5), ys / h + 0.25 * (noise(rng, w, h, 2, 2) - 0.5)
    aspect = height / width
    weights = np.stack([1 / (((xs - px) ** 2 + ((ys - py) * aspect) ** 2) + 1e-3) ** 1.6 for px, py in where])
    blend = np.einsum("khw,kc->hwc", weights, inks) / weights.sum(axis=0)[..., None]
    tick(0.5, "blending")
    small = Image.fromarray(blend.clip(0, 255).round().astype(np.uint8))
    pixels = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), np.int16)
    tick(0.8, "adding grain")
    grain = rng.integers(-6, 7, (height, width, 1), dtype=np.int16)
    return Image.fromarray((pixels + grain).clip(0, 255).astype(np.uint8))


STYLES: dict[str, Callable[[np.random.Generator, int, int, list[RGB], Tick], Image.Image]] = {
    "flow_field": flow_field,
    "bauhaus": bauhaus,
    "landscape": landscape,
    "bokeh": bokeh,
    "gradient_mesh": gradient_mesh,
}


def scaled_size(width: int, height: int, box_w: int | None, box_h: int | None) -> tuple[int, int]:
    """The size of a `width` × `height` image scaled, aspect kept, to a given width or height
    (with both, to fit inside the box)."""
    scale = min(box_w / width if box_w else math.inf, box_h / height if box_h else math.inf)
    return max(1, round(width * scale)), max(1, round(height * scale))
