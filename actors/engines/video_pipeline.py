"""The `video_pipeline` engine: slideshows, animated GIFs and transcodes made with Pillow and the
ffmpeg of imageio-ffmpeg (contracts in schemas/contracts/video_pipeline.py).

Each operation is a pure function of files (`render_slideshow`, `render_gif`, `transcode_args`)
and a thin wrapper that fetches the input artifacts, reports progress, honours cancellation
and stores the output from its file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from PIL import Image

from actors import media
from actors.media import FfmpegError, MediaInfo, Size
from actors.sdk import JobContext, PermanentError, operation
from schemas.artifacts import ArtifactInput
from schemas.contracts.video_pipeline import (
    ANIMATED_GIF,
    MAX_SLIDESHOW_SECONDS,
    SLIDESHOW,
    TRANSCODE,
    AnimatedGif,
    AnimatedGifParams,
    Slideshow,
    SlideshowParams,
    Transcoded,
    TranscodeFormat,
    TranscodeParams,
)

#: The largest frame a slideshow gets by default, and the one it gets from a too small image.
DEFAULT_BOUNDS: Size = (1920, 1080)
FALLBACK_SIZE: Size = (1280, 720)
MIN_SIDE = 16
CONTENT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "gif": "image/gif",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
}
#: A reporter of progress that may raise to stop the work: (done, total).
Report = Callable[[int, int], None]


def _even(value: float) -> int:
    return max(MIN_SIDE, int(value) // 2 * 2)


def frame_size(image: Size, width: int | None, height: int | None, bounds: Size = DEFAULT_BOUNDS) -> Size:
    """A slideshow's frame size (even sides): as asked; with one side, the other from the first
    image's shape; with neither, the first image's size within `bounds` (FALLBACK_SIZE if tiny)."""
    iw, ih = image
    if width and height:
        return width, height
    if width:
        return width, min(_even(width * ih / iw), 2160)
    if height:
        return min(_even(height * iw / ih), 3840), height
    if iw < MIN_SIDE or ih < MIN_SIDE:
        return FALLBACK_SIZE
    scale = min(1.0, bounds[0] / iw, bounds[1] / ih)
    return _even(iw * scale), _even(ih * scale)


def frame_count(images: int, seconds_per_image: float, fps: int) -> int:
    """How many frames a slideshow of `images` images lasts."""
    return max(1, round(images * seconds_per_image * fps))


def schedule(
    images: int, seconds_per_image: float, fps: int, crossfade_seconds: float = 0.0
) -> Iterator[tuple[int, float]]:
    """For each frame of a slideshow: the image it shows and how far (0–1) it has faded into the
    next one (the last `crossfade_seconds` of each image's time but the last image's)."""
    per_image = seconds_per_image * fps
    fade_frames = crossfade_seconds * fps
    for k in range(frame_count(images, seconds_per_image, fps)):
        index = min(int(k / per_image + 1e-9), images - 1)
        into = k - index * per_image
        fade = 0.0
        if fade_frames > 0 and index < images - 1 and into > per_image - fade_frames:
            fade = min((into - (per_image - fade_frames)) / fade_frames, 1.0)
        yield index, fade


def frames(images: Sequence[Path], plan: Iterable[tuple[int, float]], size: Size, background: str) -> Iterator[bytes]:
    """The raw RGB frames of a `schedule`, each image read and letterboxed once (two at most in memory)."""
    shown: dict[int, Image.Image] = {}

    def image(index: int) -> Image.Image:
        if index not in shown:
            for old in [i for i in shown if i < index]:
                del shown[old]
            shown[index] = media.letterbox(media.load_image(images[index]), size, background)
        return shown[index]

    last: tuple[int, float] | None = None
    data = b""
    for index, fade in plan:
        if (index, round(fade, 3)) != last:
            picture = image(index) if fade == 0 else Image.blend(image(index), image(index + 1), fade)
            data, last = picture.tobytes(), (index, round(fade, 3))
        yield data


def slideshow_args(size: Size, fps: int, seconds: float, audio: Path | None, target: Path) -> list[str]:
    """ffmpeg's arguments to encode raw RGB frames from stdin (and a soundtrack) into an MP4."""
    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-r", str(fps), "-i", "pipe:0"]
    args += ["-i", str(audio), "-map", "0:v:0", "-map", "1:a:0"] if audio else ["-map", "0:v:0"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-r", str(fps)]
    args += ["-af", "apad", "-c:a", "aac", "-b:a", "160k"] if audio else []  # padded, then cut by -t
    return [*args, "-t", f"{seconds:.6f}", "-movflags", "+faststart", "-f", "mp4", str(target)]


def render_slideshow(
    images: Sequence[Path],
    target: Path,
    *,
    size: Size,
    fps: int,
    seconds_per_image: float,
    crossfade_seconds: float = 0.0,
    background: str = "#000000",
    audio: Path | None = None,
    report: Report = lambda done, total: None,
) -> int:
    """Encode a slideshow of `images` into the MP4 `target`, frame by frame through ffmpeg's
    stdin; the number of frames. `report(frames written, frames)` may raise to stop (ffmpeg is killed)."""
    total = frame_count(len(images), seconds_per_image, fps)
    plan = schedule(len(images), seconds_per_image, fps, crossfade_seconds)

    def fed() -> Iterator[bytes]:
        for done, frame in enumerate(frames(images, plan, size, background), start=1):
            yield frame
            report(done, total)

    args = slideshow_args(size, fps, total / fps, audio, target)
    media.ffmpeg(args, log=target.with_name(target.name + ".log"), stdin=fed(), check=lambda: report(total, total))
    return total


def gif_size(image: Size, max_size: int) -> Size:
    """A GIF's size: the first image's, no side larger than `max_size`."""
    scale = min(1.0, max_size / max(image))
    return max(1, round(image[0] * scale)), max(1, round(image[1] * scale))


def render_gif(
    images: Sequence[Path],
    target: Path,
    *,
    seconds_per_image: float,
    loop: int = 0,
    max_size: int = 480,
    background: str = "#000000",
    report: Report = lambda done, total: None,
) -> None:
    """Write an animated GIF of `images` to `target`, each shown `seconds_per_image` (to the GIF's
    10 ms), letterboxed to the first one's shape within `max_size`. `report(images read, images)`."""
    first = media.load_image(images[0])
    size = gif_size(first.size, max_size)
    pictures = [media.letterbox(first, size, background)]
    report(1, len(images))
    for done, path in enumerate(images[1:], start=2):
        pictures.append(media.letterbox(media.load_image(path), size, background))
        report(done, len(images))
    milliseconds = max(20, round(seconds_per_image * 100) * 10)
    pictures[0].save(target, format="GIF", save_all=True, append_images=pictures[1:], duration=milliseconds, loop=loop)


def encoders_for(fmt: TranscodeFormat, available: frozenset[str]) -> tuple[str | None, str | None]:
    """The (video, audio) encoders for a format that this ffmpeg has, best first.

    Raises PermanentError if it has none for a stream the format needs."""
    wanted: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
        "mp4": (("libx264", "libopenh264"), ("aac",)),
        "webm": (("libvpx-vp9", "libvpx"), ("libopus", "libvorbis")),
        "gif": (("gif",), ()),
        "mp3": ((), ("libmp3lame",)),
        "ogg": ((), ("libvorbis", "libopus")),
    }
    video, audio = wanted[fmt]
    found = [next((name for name in names if name in available), None) for names in (video, audio)]
    for names, name in zip((video, audio), found, strict=True):
        if names and name is None:
            raise PermanentError(f"this ffmpeg has no encoder for {fmt} ({' or '.join(names)})")
    return found[0], found[1]


def transcode_args(
    source: Path, target: Path, info: MediaInfo, p: TranscodeParams, available: frozenset[str]
) -> tuple[list[str], float | None]:
    """ffmpeg's arguments to convert `source` (of which `info` tells) into `target` as `p` asks,
    and how many seconds of output to expect (None when the input's duration is unknown).

    Raises PermanentError when the input lacks the stream the format needs, or the trim is past its end."""
    video_codec, audio_codec = encoders_for(p.format, available)
    if video_codec and info.video is None:
        raise PermanentError(f"{p.format} needs a video stream; {p.input.ref} has none")
    if not video_codec and info.audio is None:
        raise PermanentError(f"{p.format} needs an audio stream; {p.input.ref} has none")
    start, end, duration = p.start or 0.0, p.end, info.duration_seconds
    if duration is not None and start >= duration:
        raise PermanentError(f"start {start} s is past the end of {p.input.ref} ({duration} s)")
    expected = None if duration is None else min(end or duration, duration) - start
    args = (["-ss", f"{start:.3f}"] if p.start else []) + (["-to", f"{end:.3f}"] if end else []) + ["-i", str(source)]
    if video_codec == "gif":
        width = p.width or min((info.video.width if info.video else None) or 480, 480)
        graph = f"fps={p.fps or 10},scale={width}:-1:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse"
        return [*args, "-map", "0:v:0", "-vf", graph, "-loop", "0", "-f", "gif", str(target)], expected
    if video_codec:
        scale = f"scale={p.width}:-2" if p.width else "scale=trunc(iw/2)*2:trunc(ih/2)*2"
        args += ["-map", "0:v:0", "-map", "0:a:0?", "-vf", scale + (f",fps={p.fps}" if p.fps else "")]
        args += ["-c:v", video_codec, "-pix_fmt", "yuv420p"]
        if p.format == "mp4":
            args += ["-preset", "veryfast", "-crf", "23", "-movflags", "+faststart"]
        else:
            args += ["-crf", "33", "-b:v", "0", "-deadline", "good", "-cpu-used", "5", "-row-mt", "1"]
        return [*args, "-c:a", audio_codec or "copy", "-b:a", "128k", "-f", p.format, str(target)], expected
    quality = ["-q:a", "4"] if audio_codec in ("libmp3lame", "libvorbis") else ["-b:a", "128k"]
    return [*args, "-map", "0:a:0", "-vn", "-c:a", str(audio_codec), *quality, "-f", p.format, str(target)], expected


# -- the operations ------------------------------------------------------------------------


def _progress(ctx: JobContext, start: float, end: float, what: str) -> Report:
    """A Report that checks for cancellation and maps done/total into [start, end]."""

    def report(done: int, total: int) -> None:
        ctx.raise_if_cancelled()
        ctx.progress(start + (end - start) * done / max(total, 1), f"{what} {done} of {total}")

    return report


def _fetch_all(ctx: JobContext, refs: Sequence[ArtifactInput], end: float) -> list[Path]:
    """Each input artifact copied into the job's directory, progress up to `end`."""
    report, paths = _progress(ctx, 0.0, end, "fetched input"), []
    for done, ref in enumerate(refs, start=1):
        paths.append(ctx.fetch_artifact(ref).path)
        report(done, len(refs))
    return paths


def _seconds_per_image(info: MediaInfo, p: SlideshowParams) -> float:
    """How long each image shows with this soundtrack. Raises PermanentError for a file without
    audio, or one too long (or of unknown length) to fit the images to."""
    if not info.has_audio:
        raise PermanentError(f"{p.audio.ref if p.audio else 'the audio'} has no audio stream")
    if not p.fit_to_audio:
        return p.seconds_per_image
    if info.duration_seconds is None or not 0 < info.duration_seconds <= MAX_SLIDESHOW_SECONDS:
        raise PermanentError(f"cannot fit to audio of {info.duration_seconds} s (up to {MAX_SLIDESHOW_SECONDS:.0f} s)")
    return info.duration_seconds / len(p.images)


@operation(SLIDESHOW, permanent_errors=(FfmpegError,))
def slideshow(ctx: JobContext, p: SlideshowParams) -> Slideshow:
    """A slideshow MP4 of the images (and soundtrack), stored as the job's artifact."""
    paths = _fetch_all(ctx, p.images, 0.08)
    audio, seconds_per_image = None, p.seconds_per_image
    if p.audio is not None:
        audio = ctx.fetch_artifact(p.audio).path
        seconds_per_image = _seconds_per_image(media.probe(audio), p)
    size = frame_size(media.load_image(paths[0], p.images[0].ref).size, p.width, p.height)
    crossfade = min(p.transition_seconds, seconds_per_image / 2) if p.transition == "crossfade" else 0.0
    target = ctx.workdir() / "slideshow.mp4"
    frames_written = render_slideshow(
        paths, target, size=size, fps=p.fps, seconds_per_image=seconds_per_image, crossfade_seconds=crossfade,
        background=p.background, audio=audio, report=_progress(ctx, 0.1, 0.9, "frame"),
    )  # fmt: skip
    ctx.progress(0.9, "storing the MP4")
    info = media.probe(target)
    artifact = ctx.save_artifact(p.name or "slideshow.mp4", target, "video/mp4")
    video = info.video
    return Slideshow(
        artifact=artifact,
        duration_seconds=info.duration_seconds or frames_written / p.fps,
        frames=frames_written,
        width=video.width if video and video.width else size[0],
        height=video.height if video and video.height else size[1],
        fps=video.fps if video and video.fps else float(p.fps),
        has_audio=info.has_audio,
    )


@operation(ANIMATED_GIF)
def animated_gif(ctx: JobContext, p: AnimatedGifParams) -> AnimatedGif:
    """An animated GIF of the images, stored as the job's artifact."""
    paths = _fetch_all(ctx, p.images, 0.2)
    target = ctx.workdir() / "animation.gif"
    render_gif(
        paths, target, seconds_per_image=p.seconds_per_image, loop=p.loop, max_size=p.max_size,
        background=p.background, report=_progress(ctx, 0.2, 0.8, "frame"),
    )  # fmt: skip
    ctx.raise_if_cancelled()
    count, (width, height), seconds = media.gif_info(target)
    ctx.progress(0.9, "storing the GIF")
    artifact = ctx.save_artifact(p.name or "animation.gif", target, "image/gif")
    return AnimatedGif(artifact=artifact, frames=count, width=width, height=height, duration_seconds=seconds)


@operation(TRANSCODE, permanent_errors=(FfmpegError,))
def transcode(ctx: JobContext, p: TranscodeParams) -> Transcoded:
    """The input converted as asked, stored as the job's artifact."""
    source = ctx.fetch_artifact(p.input).path
    ctx.progress(0.05, "reading the input")
    target = ctx.workdir() / f"output.{p.format}"
    args, expected = transcode_args(source, target, media.probe(source), p, media.encoders())

    def report(seconds: float) -> None:
        if expected:
            done = min(seconds / expected, 1.0)
            ctx.progress(0.05 + 0.85 * done, f"{seconds:.1f} s of {expected:.1f} s written")

    media.ffmpeg(args, log=target.with_name("ffmpeg.log"), check=ctx.raise_if_cancelled, report=report)
    ctx.progress(0.9, f"storing the {p.format}")
    info = media.probe(target)
    name = p.name or f"{Path(p.input.name).stem[:120]}.{p.format}"
    artifact = ctx.save_artifact(name, target, CONTENT_TYPES[p.format])
    video = info.video if p.format in ("mp4", "webm", "gif") else None
    return Transcoded(
        artifact=artifact,
        format=p.format,
        duration_seconds=info.duration_seconds,
        size=artifact.size,
        width=video.width if video else None,
        height=video.height if video else None,
        has_audio=info.has_audio,
    )
