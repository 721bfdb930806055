"""The image_generation engine: generated art that decodes at its size and repeats by seed,
resizing and thumbnails that keep (or fill) the aspect, and inputs that are not images refused."""

from __future__ import annotations

import io
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from PIL import Image

from actors import art
from actors.engines import image_generation as ig
from actors.sdk import FetchedArtifact, JobCancelled, JobContext, PermanentError
from schemas.artifacts import ArtifactInput, ArtifactView
from schemas.contracts.image_generation import GenerateArtParams, RenderCardParams, ResizeParams, ThumbnailParams

INPUT = ArtifactInput("01234567-89ab-7def-8123-456789abcdef/photo.png")


@dataclass(eq=False)
class Recording(JobContext):
    """A job context outside a worker: inputs from files, artifacts kept in memory."""

    inputs: dict[str, Path] = field(default_factory=dict)
    saved: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    reports: list[tuple[float, str | None]] = field(default_factory=list)

    def progress(self, fraction: float, message: str | None = None) -> None:
        self.reports.append((fraction, message))

    def save_artifact(self, name: str, content: Any, content_type: str) -> ArtifactView:
        self.saved[name] = (bytes(content), content_type)
        return ArtifactView(name=name, content_type=content_type, size=len(content), sha256="")

    def fetch_artifact(self, ref: ArtifactInput) -> FetchedArtifact:
        path = self.inputs[ref.ref]
        return FetchedArtifact(ref.ref, path, "image/png", path.stat().st_size, "")


def recording(**inputs: Path) -> Recording:
    return Recording(uuid.uuid4(), "t", "image_generation", "generate_art", 1, inputs=dict(inputs))


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def photo(tmp_path: Path, size: tuple[int, int] = (800, 400), fmt: str = "PNG", mode: str = "RGB") -> Path:
    """An image whose left half is red and right half blue."""
    image = Image.new(mode, size, "red")
    image.paste("blue", (size[0] // 2, 0, size[0], size[1]))
    path = tmp_path / f"photo.{fmt.lower()}"
    image.save(path, fmt)
    return path


@pytest.mark.parametrize("style", list(art.STYLES))
def test_each_style_draws_the_size_asked_in_many_colours_and_the_same_seed_repeats(style: str) -> None:
    colours = art.art_colours("ocean", None)
    ticks: list[float] = []
    # When one style is drawn twice from one seed and once from another
    first = art.draw_art(style, 320, 200, 7, colours, lambda fraction, _: ticks.append(fraction))
    again = art.draw_art(style, 320, 200, 7, colours, lambda *_: None)
    other = art.draw_art(style, 320, 200, 8, colours, lambda *_: None)
    # Then it is the size asked, not one flat colour, and repeats by seed only
    assert first.size == (320, 200) and first.mode == "RGB"
    pixels = np.asarray(first)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20 and pixels.std() > 10
    assert ig.encode(first, "png") == ig.encode(again, "png") != ig.encode(other, "png")
    assert ticks and all(0 <= t < 1 for t in ticks)


def test_bauhaus_tiles_are_in_the_palettes_colours() -> None:
    colours = ["#000000", "#ff0000", "#0000ff", "#ffff00"]
    image = art.draw_art("bauhaus", 600, 600, 3, colours, lambda *_: None)
    by_colour = {rgb: n for n, rgb in image.getcolors(maxcolors=1_000_000) or []}
    palette = {(0, 0, 0), (255, 0, 0), (0, 0, 255), (255, 255, 0)}
    assert sum(by_colour.get(c, 0) for c in palette) > 0.8 * 600 * 600  # edges are smoothed


@pytest.mark.parametrize("style", list(art.STYLES))
def test_drawing_stops_at_a_cancellation_point(style: str) -> None:
    def cancelled(fraction: float, message: str) -> None:
        raise JobCancelled()

    with pytest.raises(JobCancelled):
        art.draw_art(style, 256, 256, 1, art.art_colours("midnight", None), cancelled)


def test_generate_art_stores_its_format_and_gives_the_seed_back() -> None:
    # Given no seed: one from the job id, given back; the same seed again gives the same bytes
    ctx = recording()
    art = ig.generate_art(ctx, GenerateArtParams(style="bokeh", width=300, height=180, format="webp"))
    assert art.seed == ctx.job_id.int % 2**32 and art.artifact.name == "art.webp"
    data, content_type = ctx.saved["art.webp"]
    assert content_type == "image/webp" and (opened(data).format, opened(data).size) == ("WEBP", (300, 180))
    again = recording()
    ig.generate_art(again, GenerateArtParams(style="bokeh", width=300, height=180, format="webp", seed=art.seed))
    assert again.saved["art.webp"][0] == data
    # And progress rises to the end
    fractions = [f for f, _ in ctx.reports]
    assert fractions == sorted(fractions) and fractions[-1] >= 0.9
    # And colours of your own, as JPEG
    jpeg = recording()
    mine = ig.generate_art(
        jpeg, GenerateArtParams(style="gradient_mesh", colours=["#000000", "#ffffff"], format="jpeg")
    )
    assert mine.colours == ["#000000", "#ffffff"] and opened(jpeg.saved["art.jpg"][0]).format == "JPEG"


def test_a_card_is_stored_through_the_same_encoder_at_its_size() -> None:
    ctx = recording()
    card = ig.render_card(ctx, RenderCardParams(title="Shared encoder", width=640, height=320, format="webp"))
    data, content_type = ctx.saved["card.webp"]
    assert (card.artifact.name, content_type, card.width) == ("card.webp", "image/webp", 640)
    assert (opened(data).format, opened(data).size) == ("WEBP", (640, 320))


@pytest.mark.parametrize(
    ("width", "height", "fit", "size"),
    [
        (300, 300, "contain", (300, 150)),
        (300, 300, "cover", (300, 300)),
        (300, 300, "fill", (300, 300)),
        (400, None, "contain", (400, 200)),
        (None, 100, "cover", (200, 100)),
        (1600, 1600, "contain", (1600, 800)),
    ],
)
def test_resizing_keeps_the_aspect_unless_told_to_fill(
    width: int | None, height: int | None, fit: Any, size: tuple[int, int]
) -> None:
    image = Image.new("RGB", (800, 400), "red")
    assert ig.resized(image, width, height, fit, None).size == size


def test_contain_letterboxes_with_a_background_and_cover_crops_the_sides() -> None:
    image = Image.new("RGB", (800, 400), "red")
    image.paste("blue", (400, 0, 800, 400))
    boxed = ig.resized(image, 300, 300, "contain", (0, 255, 0))
    assert boxed.size == (300, 300) and boxed.getpixel((150, 5)) == (0, 255, 0)
    assert boxed.getpixel((20, 150)) == (255, 0, 0) and boxed.getpixel((280, 150)) == (0, 0, 255)
    covered = ig.resized(image, 200, 400, "cover", None)  # the middle 200 × 400 of the image
    assert covered.size == (200, 400)
    assert covered.getpixel((10, 200)) == (255, 0, 0) and covered.getpixel((190, 200)) == (0, 0, 255)


def test_a_thumbnail_is_never_larger_than_its_size_and_never_enlarged() -> None:
    assert ig.thumbnailed(Image.new("RGB", (800, 400)), 256).size == (256, 128)
    assert ig.thumbnailed(Image.new("RGB", (300, 900)), 256).size == (85, 256)
    assert ig.thumbnailed(Image.new("RGB", (100, 50)), 256).size == (100, 50)


def test_resize_and_thumbnail_read_an_input_and_keep_or_convert_its_format(tmp_path: Path) -> None:
    ctx = recording(**{INPUT.ref: photo(tmp_path, fmt="JPEG")})
    kept = ig.resize(ctx, ResizeParams(image=INPUT, width=200))
    assert (kept.format, kept.width, kept.height, kept.source_format) == ("jpeg", 200, 100, "jpeg")
    assert (kept.source_width, kept.source_height) == (800, 400)
    data, content_type = ctx.saved["resized.jpg"]
    assert content_type == "image/jpeg" and opened(data).size == (200, 100)
    small = ig.thumbnail(ctx, ThumbnailParams(image=INPUT, size=64, format="png", name="small.png"))
    assert (small.width, small.height, small.format) == (64, 32, "png")
    assert opened(ctx.saved["small.png"][0]).size == (64, 32)


def test_transparency_is_kept_in_png_and_laid_on_white_in_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(path)
    image, fmt = ig.decode(path, "clear.png")
    assert (image.mode, fmt) == ("RGBA", "png")
    assert opened(ig.encode(image, "png")).mode == "RGBA"
    jpeg = opened(ig.encode(image, "jpeg"))
    assert jpeg.mode == "RGB" and min(jpeg.getpixel((32, 32))) > 245


def test_an_image_is_turned_as_its_exif_orientation_says(tmp_path: Path) -> None:
    path = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    Image.new("RGB", (120, 60), "red").save(path, exif=exif)
    image, fmt = ig.decode(path, "turned.jpg")
    assert (image.size, fmt) == ((60, 120), "jpeg")


def test_a_16_bit_grey_image_keeps_its_greys(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(path)
    image, _ = ig.decode(path, "deep.png")
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (127, 127, 127)


def test_what_is_not_an_image_too_large_or_cut_short_fails_permanently(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(PermanentError, match=r"notes\.txt is not an image"):
        ig.decode(text, "notes.txt")
    # a bomb: small on disk, 56 million pixels once decoded; refused before decoding
    bomb = tmp_path / "bomb.png"
    Image.new("1", (8000, 7000)).save(bomb)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(PermanentError, match="8000 × 7000 pixels, more than 50,000,000"):
        ig.decode(bomb, "bomb.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo(tmp_path).read_bytes()[:200])
    with pytest.raises(PermanentError, match=r"cut\.png could not be decoded"):
        ig.decode(cut, "cut.png")


def test_long_pillow_calls_report_progress_and_return_at_once_when_cancelled() -> None:
    ctx, release = recording(), threading.Event()
    assert ig.offload(ctx, lambda: 42, 0.5, "working") == 42
    with pytest.raises(ValueError, match="bad"):
        ig.offload(ctx, lambda: int("bad"), 0.5, "working")
    # Given work that takes long, and a cancellation after it starts
    threading.Timer(0.3, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        ig.offload(ctx, lambda: release.wait(10), 0.5, "encoding")
    assert time.monotonic() - started < 1.5 and ("encoding" in {m for _, m in ctx.reports})
    release.set()


def test_resize_params_need_a_side_and_a_background_only_letterboxes() -> None:
    image = {"$artifact": INPUT.ref}
    with pytest.raises(msgspec.ValidationError, match=r"width, a height or both - at `\$.width`"):
        msgspec.convert({"image": image}, ResizeParams)
    with pytest.raises(msgspec.ValidationError, match=r"at `\$.background`"):
        msgspec.convert(
            {"image": image, "width": 10, "height": 10, "fit": "cover", "background": "#000000"}, ResizeParams
        )
    with pytest.raises(msgspec.ValidationError, match=r"at `\$.image"):
        msgspec.convert({"image": {"$artifact": "not-a-ref"}, "width": 10}, ResizeParams)
    assert msgspec.convert({"image": image, "height": 10}, ResizeParams).width is None
