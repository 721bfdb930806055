"""Media for the engines: images read with Pillow, programs (ffmpeg, espeak-ng) run so that a
job's progress and cancellation reach them (`run_program`, `ffmpeg`), and what the ffmpeg of
imageio-ffmpeg can encode, what a file holds (`probe`) and how loud it is (`measure`).

imageio-ffmpeg ships ffmpeg but not ffprobe, so `probe` reads what `ffmpeg -i <file>` prints
about its input: the duration and a line per stream.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps

from actors.sdk import PermanentError
from schemas.contracts.audio_generation import Levels

#: How often a running program is checked on (seconds): progress and cancellation points.
POLL_SECONDS = 0.2
#: Lines of a program's log an error message ends with.
LOG_TAIL_LINES = 8
PROBE_TIMEOUT_SECONDS = 60.0
#: What volumedetect says of digital silence.
SILENCE_DB = -90.0

Size = tuple[int, int]
#: Called while a program runs; may raise (a cancellation) to stop it.
Check = Callable[[], None]


class MediaError(Exception):
    """A program that makes or reads media (ffmpeg, espeak-ng) is missing or failed; the message
    ends with the last lines it wrote."""


class FfmpegError(MediaError):
    """ffmpeg refused a file or failed."""


@functools.cache
def ffmpeg_exe() -> str:
    """The path of the ffmpeg binary of the imageio-ffmpeg wheel."""
    import imageio_ffmpeg

    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


@functools.cache
def encoders() -> frozenset[str]:
    """The names of the encoders this ffmpeg build has (`libx264`, `libvpx-vp9`, `libopus`, …)."""
    listed = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return frozenset(m.group(1) for m in re.finditer(r"^ [VAS][A-Z.]{5} (\S+)", listed, re.MULTILINE))


@dataclass(frozen=True)
class Stream:
    """A stream of a media file: its kind (`video`, `audio`, …) and codec, and for video its
    size and frame rate, for audio its sample rate and channel layout."""

    kind: str
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds: its container, duration (None when ffmpeg cannot tell) and streams."""

    container: str
    duration_seconds: float | None
    streams: tuple[Stream, ...]

    @property
    def video(self) -> Stream | None:
        """The first video stream, if any."""
        return next((s for s in self.streams if s.kind == "video"), None)

    @property
    def audio(self) -> Stream | None:
        """The first audio stream, if any."""
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def has_audio(self) -> bool:
        """Whether there is an audio stream."""
        return self.audio is not None


_INPUT = re.compile(r"^Input #0, (?P<container>[^,]+(?:,[^,\s]+)*), from ", re.MULTILINE)
_DURATION = re.compile(r"^\s+Duration: (?:(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)|N/A)", re.MULTILINE)
_STREAM = re.compile(r"^\s+Stream #0:\d+\S*: (?P<kind>\w+): (?P<desc>.*)$", re.MULTILINE)
_TOP_LEVEL_COMMA = re.compile(r",\s*(?![^()\[\]]*[)\]])")


def parse_probe(text: str) -> MediaInfo:
    """The MediaInfo of the first input described in ffmpeg's log `text`.

    Raises FfmpegError when the log describes no input (ffmpeg could not read the file)."""
    found = _INPUT.search(text)
    if found is None:
        raise FfmpegError(f"not a media file ffmpeg can read: {_tail(text)}")
    block = text[found.start() :]
    block = block.split("\nInput #1", 1)[0].split("\nOutput #", 1)[0]
    duration = _DURATION.search(block)
    seconds = None
    if duration is not None and duration.group("h") is not None:
        seconds = int(duration.group("h")) * 3600 + int(duration.group("m")) * 60 + float(duration.group("s"))
    streams = tuple(_stream(m.group("kind").lower(), m.group("desc")) for m in _STREAM.finditer(block))
    return MediaInfo(found.group("container"), seconds, streams)


def _stream(kind: str, desc: str) -> Stream:
    parts = [part.strip() for part in _TOP_LEVEL_COMMA.split(desc)]
    codec = parts[0].split(" ", 1)[0] if parts else ""
    width = height = sample_rate = None
    fps = channels = None
    for index, part in enumerate(parts[1:], start=1):
        if (size := re.match(r"(\d+)x(\d+)\b", part)) and width is None:
            width, height = int(size.group(1)), int(size.group(2))
        elif rate := re.fullmatch(r"([\d.]+)(k?) fps", part):
            fps = float(rate.group(1)) * (1000 if rate.group(2) else 1)
        elif hz := re.fullmatch(r"(\d+) Hz", part):
            sample_rate = int(hz.group(1))
            channels = parts[index + 1] if index + 1 < len(parts) else None
    return Stream(kind, codec, width, height, fps, sample_rate, channels)


def probe(path: Path) -> MediaInfo:
    """What the media file at `path` holds, as ffmpeg reads it (the work of ffprobe).

    Raises FfmpegError if ffmpeg cannot read it."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        check=False,
    )
    return parse_probe(done.stderr.decode("utf-8", "replace"))


def parse_progress(line: str) -> float | None:
    """The seconds of output written, from a line of `-progress` output (`out_time_us=…`), or None."""
    key, _, value = line.strip().partition("=")
    if key in ("out_time_us", "out_time_ms") and value.lstrip("-").isdigit():  # both are µs
        return max(int(value), 0) / 1_000_000
    return None


def no_check() -> None:
    """A Check that stops nothing."""


def run_program(
    argv: Sequence[str],
    *,
    check: Check = no_check,
    log: Path | None = None,
    stdin: Iterable[bytes] | None = None,
    on_line: Callable[[bytes], None] | None = None,
    error: type[MediaError] = MediaError,
    name: str = "",
) -> str:
    """Run a program to its end; what it wrote to stderr (kept in the file `log` too, if given).

    The chunks of `stdin` are written to its input, each line of its output goes to `on_line`
    (on a thread of its own), and `check` is called every POLL_SECONDS while it runs: whatever
    `check` or `stdin` raises (or a thread interrupt: a time limit) kills the program. Raises
    `error`, calling it `name` (default: its file name), if it is missing or exits with an
    error; the message ends with the last lines it wrote."""
    name = name or Path(argv[0]).name
    with log.open("w+b") if log is not None else tempfile.TemporaryFile() as sink:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE if on_line is not None else subprocess.DEVNULL,
                stderr=sink,
            )
        except FileNotFoundError:
            raise error(f"{name} is not installed on this worker (`make up` installs it)") from None
        with _running(proc, on_line):
            _feed(proc, stdin or ())
            code = _wait(proc, check)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
    if code != 0:
        raise error(f"{name} failed: {_tail(text)} (exit {code})")
    return text


@contextmanager
def _running(proc: subprocess.Popen[bytes], on_line: Callable[[bytes], None] | None) -> Iterator[None]:
    """The program's output read by a thread into `on_line`; the program killed if the block
    is left by an exception, and waited for."""
    reader = None
    if on_line is not None and proc.stdout is not None:
        reader = threading.Thread(target=_read, args=(proc.stdout, on_line), name="program-output", daemon=True)
        reader.start()
    try:
        yield
    except BaseException:
        proc.kill()
        raise
    finally:
        _close(proc.stdin)  # it sees the end of its input
        proc.wait()
        if reader is not None:
            reader.join(timeout=5)
        _close(proc.stdout)


def _read(out: IO[bytes], on_line: Callable[[bytes], None]) -> None:
    for line in out:
        on_line(line)


def _feed(proc: subprocess.Popen[bytes], chunks: Iterable[bytes]) -> None:
    """Write `chunks` to the program's input until it stops reading."""
    for chunk in chunks:
        assert proc.stdin is not None
        try:
            proc.stdin.write(chunk)
        except BrokenPipeError:
            return  # it stopped: its exit code tells why


def _wait(proc: subprocess.Popen[bytes], check: Check) -> int:
    """The program's exit code once it ends, `check` called between polls."""
    _close(proc.stdin)  # the end of its input, if it reads any
    while True:
        try:
            return proc.wait(POLL_SECONDS)
        except subprocess.TimeoutExpired:
            check()


def _close(pipe: IO[bytes] | None) -> None:
    if pipe is not None and not pipe.closed:
        with contextlib.suppress(BrokenPipeError):  # the program is gone already
            pipe.close()


@dataclass(frozen=True)
class FfmpegRun:
    """What a finished ffmpeg wrote: seconds of output, and its log."""

    seconds: float
    log: str


def ffmpeg(
    args: Sequence[str],
    *,
    log: Path | None = None,
    stdin: Iterable[bytes] | None = None,
    check: Check = no_check,
    report: Callable[[float], None] | None = None,
) -> FfmpegRun:
    """Run ffmpeg with `args` (after the binary and `-hide_banner -y`) to the end, with raw
    input from the chunks of `stdin` if given, its log kept in `log` if given. Between polls
    `check()`, then `report(seconds of output written)`, are called; either may raise to stop
    it (ffmpeg is killed).

    Raises FfmpegError if it fails."""
    written = [0.0]

    def read(line: bytes) -> None:
        seconds = parse_progress(line.decode("ascii", "replace"))
        if seconds is not None:
            written[0] = seconds

    def poll() -> None:
        check()
        if report is not None:
            report(written[0])

    command = [ffmpeg_exe(), "-hide_banner", "-y", "-loglevel", "info", "-progress", "pipe:1", "-nostats"]
    command += [] if stdin is not None else ["-nostdin"]
    text = run_program(
        [*command, *args], check=poll, log=log, stdin=stdin, on_line=read, error=FfmpegError, name="ffmpeg"
    )
    return FfmpegRun(written[0], text)


@dataclass(frozen=True)
class Measured:
    """What one ffmpeg pass (volumedetect and loudnorm) found of a file's first audio stream."""

    levels: Levels
    duration_seconds: float
    sample_rate: int
    #: ffmpeg's name for its channel layout (`mono`, `stereo`, `5.1(side)`, `6 channels` …).
    layout: str
    #: loudnorm's own figures (input_i, input_tp, input_lra, input_thresh, target_offset …).
    loudnorm: dict[str, str]


def decibels(value: str) -> float | None:
    """A level ffmpeg printed, rounded; None for silence (-inf, or volumedetect's floor)."""
    number = float(value)
    return None if not math.isfinite(number) or number <= SILENCE_DB else round(number, 2)


def measure(path: Path, *, check: Check = no_check, report: Callable[[float], None] | None = None) -> Measured:
    """Sample peak, true peak and integrated loudness of an audio file (ffmpeg volumedetect and
    loudnorm), its duration, sample rate and channel layout; `check` and `report` as for `ffmpeg`.

    Raises FfmpegError if ffmpeg cannot read it or finds no audio stream in it."""
    args = ["-i", str(path), "-vn", "-af", "volumedetect,loudnorm=print_format=json", "-f", "null", "-"]
    try:
        ran = ffmpeg(args, check=check, report=report)
    except FfmpegError as exc:
        raise FfmpegError(f"the input is not audio ffmpeg can read ({exc})") from None
    audio = parse_probe(ran.log).audio
    figures = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", ran.log)
    if audio is None or audio.sample_rate is None or figures is None:
        raise FfmpegError("the input has no audio stream ffmpeg can read")
    loudnorm: dict[str, str] = json.loads(figures.group(0))
    peaks = re.findall(r"max_volume: (\S+) dB", ran.log)
    levels = Levels(
        peak_dbfs=decibels(peaks[-1]) if peaks else None,
        true_peak_dbtp=decibels(loudnorm["input_tp"]),
        loudness_lufs=decibels(loudnorm["input_i"]),
    )
    return Measured(levels, round(ran.seconds, 3), audio.sample_rate, (audio.channels or "").strip(), loudnorm)


def load_image(path: Path, ref: str = "") -> Image.Image:
    """The (first frame of the) image at `path`, upright and in RGB.

    Raises PermanentError, naming `ref`, if Pillow cannot read it."""
    try:
        with Image.open(path) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PermanentError(f"{ref or path.name} is not an image Pillow can read: {exc}") from None


def letterbox(image: Image.Image, size: Size, background: str) -> Image.Image:
    """`image` scaled to fit `size` (up or down, keeping its shape), centred on `background`."""
    fitted = ImageOps.contain(image, size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, background)
    canvas.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return canvas


def gif_info(path: Path) -> tuple[int, Size, float]:
    """A GIF's frame count, size and duration in seconds, as read back."""
    with Image.open(path) as gif:
        count, total_ms = 0, 0
        for index in range(getattr(gif, "n_frames", 1)):
            gif.seek(index)
            count, total_ms = count + 1, total_ms + int(gif.info.get("duration", 0))
        return count, gif.size, total_ms / 1000


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-LOG_TAIL_LINES:]) or "(no output)"
