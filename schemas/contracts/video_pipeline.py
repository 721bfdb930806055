"""Contracts of the `video_pipeline` engine: videos and animations made locally with the ffmpeg
that imageio-ffmpeg ships (and Pillow), from earlier jobs' artifacts, stored as the job's
artifacts."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.artifacts import EXAMPLE_JOB_ID, NAME, ArtifactInput, ArtifactView
from schemas.contracts import FFMPEG_ERROR, contract

#: The longest slideshow, in seconds.
MAX_SLIDESHOW_SECONDS = 600.0

Colour = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")]
ArtifactName = Annotated[str, Meta(pattern=NAME.pattern, description="the output artifact's name")]
Images = Annotated[list[ArtifactInput], Meta(min_length=1, max_length=100)]
FrameWidth = Annotated[int, Meta(ge=16, le=3840, multiple_of=2)]
FrameHeight = Annotated[int, Meta(ge=16, le=2160, multiple_of=2)]
Fps = Annotated[int, Meta(ge=1, le=60)]
Transition = Literal["none", "crossfade"]
TranscodeFormat = Literal["mp4", "webm", "gif", "mp3", "ogg"]


class SlideshowParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: The images, in order (PNG, JPEG, WebP, … as Pillow reads them).
    images: Images
    #: A soundtrack (any format ffmpeg reads): cut, or padded with silence, to the video's length.
    audio: ArtifactInput | None = None
    seconds_per_image: Annotated[float, Meta(ge=0.1, le=60)] = 3.0
    #: Show each image for an equal share of the audio's length instead of `seconds_per_image`.
    fit_to_audio: bool = False
    #: The frame size (even numbers). Default: the first image's size, within 1920 × 1080; given
    #: one side, the other follows the first image's shape.
    width: FrameWidth | None = None
    height: FrameHeight | None = None
    fps: Fps = 25
    transition: Transition = "none"
    #: How long a crossfade lasts (at most half the time an image shows).
    transition_seconds: Annotated[float, Meta(ge=0.04, le=5)] = 0.5
    #: The colour around an image whose shape is not the frame's.
    background: Colour = "#000000"
    #: The artifact's name (default `slideshow.mp4`).
    name: ArtifactName | None = None

    def __post_init__(self) -> None:
        # located as msgspec locates its own errors, so that a 422 names the field
        if self.fit_to_audio and self.audio is None:
            raise ValueError("fit_to_audio needs an audio artifact - at `$.fit_to_audio`")
        if not self.fit_to_audio and len(self.images) * self.seconds_per_image > MAX_SLIDESHOW_SECONDS:
            raise ValueError(
                f"{len(self.images)} images of {self.seconds_per_image} s make more than "
                f"{MAX_SLIDESHOW_SECONDS:.0f} s - at `$.seconds_per_image`"
            )


class Slideshow(msgspec.Struct, kw_only=True):
    #: The MP4 (H.264, yuv420p, AAC audio when there is a soundtrack, faststart).
    artifact: ArtifactView
    #: As read back from the MP4 by ffmpeg.
    duration_seconds: float
    frames: int
    width: int
    height: int
    fps: float
    has_audio: bool


class AnimatedGifParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: The frames, in order.
    images: Images
    seconds_per_image: Annotated[float, Meta(ge=0.02, le=60)] = 1.0
    #: 0 loops for ever; n plays n more times after the first.
    loop: Annotated[int, Meta(ge=0, le=65535)] = 0
    #: The longest side, in pixels: the GIF is the first image's shape, no larger than this.
    max_size: Annotated[int, Meta(ge=16, le=1024)] = 480
    background: Colour = "#000000"
    #: The artifact's name (default `animation.gif`).
    name: ArtifactName | None = None


class AnimatedGif(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    #: As read back from the GIF (identical neighbours are merged into one longer frame).
    frames: int
    width: int
    height: int
    duration_seconds: float


class TranscodeParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: A video or audio artifact (any format ffmpeg reads).
    input: ArtifactInput
    #: mp4 (H.264/AAC), webm (VP9/Opus), gif, mp3 or ogg (Vorbis): the last two take the audio only.
    format: TranscodeFormat
    #: Scale the video to this width (the height keeps the shape). GIFs default to at most 480.
    width: FrameWidth | None = None
    #: Frames per second of the output video (GIFs default to 10; others keep the input's).
    fps: Fps | None = None
    #: Keep only the input from `start` to `end` (seconds).
    start: Annotated[float, Meta(ge=0)] | None = None
    end: Annotated[float, Meta(gt=0)] | None = None
    #: The artifact's name (default: the input's, with the format's extension).
    name: ArtifactName | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must come after start ({self.start}) - at `$.end`")


class Transcoded(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    format: TranscodeFormat
    #: As read back from the output by ffmpeg.
    duration_seconds: float | None
    #: The output's size in bytes.
    size: int
    #: The video's frame size (None for audio formats).
    width: int | None
    height: int | None
    has_audio: bool


def _example_input(name: str) -> dict[str, str]:
    return {"$artifact": f"{EXAMPLE_JOB_ID}/{name}"}


SLIDESHOW = contract(
    "video_pipeline",
    "slideshow",
    params=SlideshowParams,
    result=Slideshow,
    description=(
        "An MP4 (H.264) of images shown in turn, letterboxed to one frame size, cut or crossfaded, with an "
        "optional soundtrack (AAC) whose length the images can be fitted to; progress per frame."
    ),
    example={
        "images": [_example_input("card.png"), _example_input("card.png")],
        "seconds_per_image": 2,
        "fps": 24,
        "transition": "crossfade",
    },
    timeout_seconds=900,
    errors=(FFMPEG_ERROR,),
)

ANIMATED_GIF = contract(
    "video_pipeline",
    "animated_gif",
    params=AnimatedGifParams,
    result=AnimatedGif,
    description="An animated GIF of images shown in turn, each for a set time, looping, no larger than max_size.",
    example={"images": [_example_input("card.png")], "seconds_per_image": 0.5, "max_size": 320},
    timeout_seconds=300,
)

TRANSCODE = contract(
    "video_pipeline",
    "transcode",
    params=TranscodeParams,
    result=Transcoded,
    description=(
        "A video or audio artifact converted to MP4 (H.264/AAC), WebM (VP9/Opus), GIF, MP3 or Ogg Vorbis, "
        "optionally scaled to a width and trimmed from start to end; progress as ffmpeg writes."
    ),
    example={"input": _example_input("slideshow.mp4"), "format": "webm", "width": 640},
    timeout_seconds=900,
    errors=(FFMPEG_ERROR,),
)
