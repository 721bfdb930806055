"""The video_pipeline engine's pure functions: real MP4s, GIFs and transcodes made by the ffmpeg of
imageio-ffmpeg, decoded again and measured."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import time
import wave
from pathlib import Path
from typing import Any

import msgspec
import pytest
from PIL import Image

from actors import media
from actors.engines import video_pipeline as vp
from actors.media import FfmpegError
from actors.sdk import PermanentError
from schemas.artifacts import EXAMPLE_JOB_ID
from schemas.contracts.video_pipeline import SlideshowParams, TranscodeParams

MP4_LOG = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 't.mp4':
  Metadata:
    major_brand     : isom
  Duration: 00:01:02.50, start: 0.000000, bitrate: 127 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], \
45 kb/s, 25 fps, 25 tbr, 12800 tbn (default)
    Metadata:
      handler_name    : VideoHandler
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s (default)
At least one output file must be specified
"""
WEBM_LOG = """Input #0, matroska,webm, from 'cut.webm':
  Duration: N/A, start: 0.000000, bitrate: 155 kb/s
  Stream #0:0: Video: vp9 (Profile 0), yuv420p(tv, progressive), 640x360, SAR 1:1 DAR 16:9, 23.98 fps, 1k tbn
  Stream #0:1: Audio: opus, 48000 Hz, stereo, fltp (default)
"""
COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220)]


def ref(name: str) -> dict[str, str]:
    return {"$artifact": f"{EXAMPLE_JOB_ID}/{name}"}


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    """Three plain images of different shapes: red 640×360, green 400×400, blue 300×600."""
    paths = []
    for index, (colour, size) in enumerate(zip(COLOURS, [(640, 360), (400, 400), (300, 600)], strict=True)):
        path = tmp_path / f"image{index}.png"
        Image.new("RGB", size, colour).save(path)
        paths.append(path)
    return paths


def tone(path: Path, seconds: float, rate: int = 22050) -> Path:
    """A 440 Hz mono WAV of `seconds`."""
    samples = (int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def frame_at(path: Path, seconds: float, size: tuple[int, int]) -> Image.Image:
    """The video's frame at `seconds`, decoded by ffmpeg."""
    raw = subprocess.run(
        [media.ffmpeg_exe(), "-v", "error", "-ss", str(seconds), "-i", str(path), "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return Image.frombytes("RGB", size, raw)


def close(pixel: object, colour: tuple[int, ...], tolerance: int = 24) -> bool:
    """Whether a decoded pixel is `colour`, give or take what H.264 and GIF palettes change."""
    assert isinstance(pixel, tuple), pixel
    return all(abs(x - y) <= tolerance for x, y in zip(pixel, colour, strict=True))


def ffmpeg_children() -> list[int]:
    """Processes of ours running ffmpeg."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"ffmpeg" in cmdline:
            found.append(int(pid))
    return found


def test_probe_reads_the_duration_and_streams_from_ffmpegs_log() -> None:
    info = media.parse_probe(MP4_LOG)
    assert info.container.startswith("mov,mp4") and info.duration_seconds == pytest.approx(62.5)
    assert info.video == media.Stream("video", "h264", 320, 240, 25.0)
    assert info.audio == media.Stream("audio", "aac", sample_rate=44100, channels="mono")
    webm = media.parse_probe(WEBM_LOG)
    assert webm.duration_seconds is None and webm.has_audio
    assert webm.video is not None and (webm.video.width, webm.video.height, webm.video.fps) == (640, 360, 23.98)
    with pytest.raises(FfmpegError, match="not a media file"):
        media.parse_probe("x.txt: Invalid data found when processing input\n")


def test_progress_lines_give_seconds_written() -> None:
    assert media.parse_progress("out_time_us=1500000\n") == 1.5
    assert media.parse_progress("out_time_ms=250000") == 0.25
    assert media.parse_progress("out_time_us=N/A") is None
    assert media.parse_progress("progress=continue") is None


def test_the_frame_size_comes_from_the_params_or_the_first_image() -> None:
    assert vp.frame_size((1200, 630), None, None) == (1200, 630)
    assert vp.frame_size((4000, 3000), None, None) == (1440, 1080)
    assert vp.frame_size((1201, 631), None, None) == (1200, 630)
    assert vp.frame_size((1200, 600), 640, None) == (640, 320)
    assert vp.frame_size((1200, 600), None, 300) == (600, 300)
    assert vp.frame_size((8, 8), None, None) == vp.FALLBACK_SIZE
    assert vp.frame_size((8, 8), 320, 240) == (320, 240)


def test_a_schedule_shows_each_image_its_time_and_fades_at_the_end_of_each_but_the_last() -> None:
    plan = list(vp.schedule(3, 1.0, 10, crossfade_seconds=0.3))
    assert len(plan) == 30
    assert [index for index, _ in plan] == [0] * 10 + [1] * 10 + [2] * 10
    assert [round(fade, 2) for _, fade in plan[:10]] == [0] * 8 + [0.33, 0.67]
    assert all(fade == 0 for _, fade in plan[20:])
    assert all(fade == 0 for _, fade in vp.schedule(3, 1.0, 10))


def test_a_slideshow_is_an_h264_mp4_of_the_images_letterboxed(images: list[Path], tmp_path: Path) -> None:
    # Given three images of different shapes
    target = tmp_path / "show.mp4"
    reports: list[tuple[int, int]] = []
    # When they become a 640×360 slideshow of a second each, with crossfades
    frames = vp.render_slideshow(
        images, target, size=(640, 360), fps=25, seconds_per_image=1.0, crossfade_seconds=0.4,
        report=lambda done, total: reports.append((done, total)),
    )  # fmt: skip
    # Then it lasts 3 s at 25 fps, progress came per frame, and it has no audio
    info = media.probe(target)
    assert frames == 75 and reports[0] == (1, 75) and (75, 75) in reports
    assert info.duration_seconds == pytest.approx(3.0, abs=0.05) and not info.has_audio
    assert info.video is not None and info.video.codec == "h264"
    assert (info.video.width, info.video.height, info.video.fps) == (640, 360, 25.0)
    # And each image shows in its time, the square one between black bars, and fades into the next
    first, second = frame_at(target, 0.2, (640, 360)), frame_at(target, 1.3, (640, 360))
    assert close(first.getpixel((320, 180)), COLOURS[0]) and close(first.getpixel((5, 180)), COLOURS[0])
    assert close(second.getpixel((320, 180)), COLOURS[1]) and close(second.getpixel((10, 180)), (0, 0, 0))
    fading = frame_at(target, 0.8, (640, 360)).getpixel((320, 180))
    assert isinstance(fading, tuple) and 60 < fading[0] < 200 and 60 < fading[1] < 180


@pytest.mark.parametrize("audio_seconds", [1.5, 5.0])
def test_a_soundtrack_is_padded_or_cut_to_the_video(images: list[Path], tmp_path: Path, audio_seconds: float) -> None:
    audio = tone(tmp_path / "tone.wav", audio_seconds)
    target = tmp_path / "show.mp4"
    vp.render_slideshow(images, target, size=(320, 180), fps=10, seconds_per_image=1.0, audio=audio)
    info = media.probe(target)
    assert info.audio is not None and info.audio.codec == "aac"
    assert info.duration_seconds == pytest.approx(3.0, abs=0.1)


def test_a_slideshow_stopped_between_frames_kills_ffmpeg(images: list[Path], tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def report(done: int, total: int) -> None:
        if done == 10:
            raise Stop

    with pytest.raises(Stop):
        vp.render_slideshow(images, tmp_path / "show.mp4", size=(640, 360), fps=25, seconds_per_image=20, report=report)
    assert ffmpeg_children() == []


def test_an_unreadable_image_fails_permanently(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(PermanentError, match="not an image"):
        vp.render_slideshow([bad], tmp_path / "show.mp4", size=(64, 64), fps=5, seconds_per_image=1)


def test_an_animated_gif_has_a_frame_per_image_at_the_first_ones_shape(images: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "a.gif"
    vp.render_gif(images, target, seconds_per_image=0.25, loop=0, max_size=320)
    frames, size, seconds = media.gif_info(target)
    assert (frames, size, seconds) == (3, (320, 180), 0.75)
    with Image.open(target) as gif:
        assert gif.info["loop"] == 0
        colours = []
        for index in range(3):
            gif.seek(index)
            pixel = gif.convert("RGB").getpixel((160, 90))
            assert isinstance(pixel, tuple)
            colours.append(pixel)
    assert all(close(c, expected) for c, expected in zip(colours, COLOURS, strict=True))


@pytest.fixture
def video(images: list[Path], tmp_path: Path) -> Path:
    """A 3 s 640×360 slideshow with a soundtrack."""
    target = tmp_path / "in.mp4"
    vp.render_slideshow(
        images, target, size=(640, 360), fps=25, seconds_per_image=1.0, audio=tone(tmp_path / "t.wav", 3)
    )
    return target


def transcode(video: Path, tmp_path: Path, **params: Any) -> tuple[media.MediaInfo, list[float]]:
    p = msgspec.convert({"input": ref("in.mp4"), **params}, TranscodeParams)
    target = tmp_path / f"out.{p.format}"
    args, expected = vp.transcode_args(video, target, media.probe(video), p, media.encoders())
    written: list[float] = []
    media.ffmpeg(args, log=tmp_path / "ffmpeg.log", report=written.append)
    assert expected is not None and expected > 0
    return media.probe(target), written


@pytest.mark.parametrize(
    ("params", "container", "video_codec", "audio", "size", "seconds"),
    [
        ({"format": "webm", "width": 320}, "matroska,webm", "vp9", "opus", (320, 180), 3.0),
        ({"format": "mp4", "start": 0.5, "end": 2.0}, "mov,mp4,m4a,3gp,3g2,mj2", "h264", "aac", (640, 360), 1.5),
        ({"format": "gif", "fps": 5}, "gif", "gif", None, (480, 270), 3.0),
        ({"format": "mp3", "start": 1}, "mp3", None, "mp3", None, 2.0),
        ({"format": "ogg"}, "ogg", None, "vorbis", None, 3.0),
    ],
)
def test_a_transcode_writes_the_format_asked(
    video: Path, tmp_path: Path, params: dict[str, Any], container: str, video_codec: str | None,
    audio: str | None, size: tuple[int, int] | None, seconds: float,
) -> None:  # fmt: skip
    info, written = transcode(video, tmp_path, **params)
    assert info.container == container
    assert (info.video.codec if info.video else None) == video_codec
    assert (info.audio.codec if info.audio else None) == audio
    assert ((info.video.width, info.video.height) if info.video else None) == size
    assert info.duration_seconds == pytest.approx(seconds, abs=0.15)
    assert written == sorted(written)


def test_a_transcode_refuses_a_stream_the_input_lacks_or_a_start_past_its_end(tmp_path: Path) -> None:
    audio = tone(tmp_path / "t.wav", 1.0)
    info = media.probe(audio)
    for params, message in (({"format": "mp4"}, "needs a video stream"), ({"format": "mp3", "start": 5}, "past")):
        p = msgspec.convert({"input": ref("t.wav"), **params}, TranscodeParams)
        with pytest.raises(PermanentError, match=message):
            vp.transcode_args(audio, tmp_path / "out", info, p, media.encoders())


def test_a_run_stopped_by_its_report_kills_ffmpeg(tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def report(seconds: float) -> None:
        raise Stop

    args = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "600", "-f", "null", "-"]
    started = time.monotonic()
    with pytest.raises(Stop):
        media.ffmpeg(args, log=tmp_path / "ffmpeg.log", report=report)
    assert time.monotonic() - started < 5 and ffmpeg_children() == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"images": [ref("a.png")], "fit_to_audio": True}, "$.fit_to_audio"),
        ({"images": [ref("a.png")] * 20, "seconds_per_image": 60}, "$.seconds_per_image"),
        ({"images": [ref("a.png")], "width": 641}, "$.width"),
        ({"images": []}, "$.images"),
    ],
)
def test_slideshow_params_are_checked(params: dict[str, Any], field: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=field.replace("$", r"\$")):
        msgspec.convert(params, SlideshowParams)


def test_a_trim_must_end_after_it_starts() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.end"):
        msgspec.convert({"input": ref("a.mp4"), "format": "mp4", "start": 2, "end": 1}, TranscodeParams)
