"""The `audio_generation` engine: speech from espeak-ng, tones from numpy, loudness from ffmpeg
(the binary imageio-ffmpeg ships), stored as artifacts (contracts in
schemas/contracts/audio_generation.py).

Each operation is a function of plain inputs that writes a file in a directory it is given, and
a thin wrapper that reports progress, fetches and saves artifacts. Programs run through
actors.media: polled, and killed when the job is cancelled or times out.
"""

from __future__ import annotations

import difflib
import functools
import re
import subprocess
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from actors import media
from actors.media import Check, MediaError, no_check
from actors.sdk import JobContext, operation
from schemas.artifacts import ArtifactView
from schemas.contracts.audio_generation import (
    NORMALIZE,
    SPEAK,
    SYNTHESIZE_TONES,
    AudioFormat,
    Normalized,
    NormalizeParams,
    SpeakParams,
    Speech,
    ToneParams,
    Tones,
)

ESPEAK = "espeak-ng"
#: Sentences are spoken in pieces of about this many characters.
CHUNK_CHARS = 400
CONTENT_TYPES = {"wav": "audio/wav", "ogg": "audio/ogg"}
#: Loudness targets when the params give none.
DEFAULT_LUFS, DEFAULT_TRUE_PEAK, DEFAULT_PEAK = -16.0, -1.5, -1.0

#: Reports how far a step is (0–1) and what it does.
Report = Callable[[float, str], None]
T = TypeVar("T")


class AudioError(ValueError):
    """Input that cannot become audio (an unknown voice, a file that is not sound): fails the job at once."""


def quiet(fraction: float, message: str) -> None:
    """A Report that tells no one."""


def steps(items: Sequence[T], what: str, check: Check, report: Report) -> Iterator[tuple[int, T]]:
    """Each item with its index, after `check()` and a report of how many are done."""
    for index, item in enumerate(items):
        check()
        report(index / len(items), f"{what} {index + 1} of {len(items)}")
        yield index, item


def encode(wav: Path, fmt: AudioFormat, *, check: Check = no_check) -> Path:
    """The WAV itself, or the same sound as Ogg Vorbis next to it."""
    if fmt == "wav":
        return wav
    ogg = wav.with_suffix(".ogg")
    media.ffmpeg(["-i", str(wav), "-c:a", "libvorbis", "-q:a", "5", str(ogg)], check=check)
    return ogg


def wav_info(path: Path) -> tuple[float, int, int]:
    """A WAV file's duration in seconds, sample rate and channels."""
    with wave.open(str(path), "rb") as reader:
        rate = reader.getframerate()
        return reader.getnframes() / rate, rate, reader.getnchannels()


# ---- speech -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def known_voices() -> tuple[frozenset[str], frozenset[str]]:
    """The languages (lower case) and the variants espeak-ng has here."""
    listed = subprocess.run([ESPEAK, "--voices"], capture_output=True, text=True, check=True, timeout=30).stdout
    languages = {line.split()[1].lower() for line in listed.splitlines()[1:] if len(line.split()) > 1}
    languages.update(other.lower() for other in re.findall(r"\(([^\s()]+) \d+\)", listed))
    listed = subprocess.run([ESPEAK, "--voices=variant"], capture_output=True, text=True, check=True, timeout=30).stdout
    variants = {line.split()[4].removeprefix("!v/") for line in listed.splitlines()[1:] if len(line.split()) > 4}
    return frozenset(languages), frozenset(variants)


def check_voice(voice: str) -> None:
    """AudioError, naming the nearest ones, unless espeak-ng knows the voice and its variant."""
    try:
        languages, variants = known_voices()
    except FileNotFoundError:
        raise AudioError(f"{ESPEAK} is not installed on this worker (`make up` installs it)") from None
    language, _, variant = voice.partition("+")
    for kind, name, known in (("voice", language.lower(), languages), ("variant", variant, variants)):
        if name and name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=5)
            hint = f"; did you mean {', '.join(near)}?" if near else f" (`{ESPEAK} --voices` lists them)"
            raise AudioError(f"espeak-ng has no {kind} {name!r}{hint}")


def sentence_chunks(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """The text in pieces of whole sentences, each up to `limit` characters (a longer sentence
    is cut between words, a longer word anywhere)."""
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?;:…])\s+|\n\s*\n", text):
        words = sentence.split()
        while words:
            piece = words.pop(0)
            while len(piece) > limit:
                pieces.append(piece[:limit])
                piece = piece[limit:]
            while words and len(piece) + 1 + len(words[0]) <= limit:
                piece += " " + words.pop(0)
            pieces.append(piece)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= limit:
            chunks[-1] += " " + piece
        else:
            chunks.append(piece)
    return chunks


def speak_to_wav(text: str, out: Path, *, voice: str, speed: int, pitch: int, check: Check = no_check,
                 report: Report = quiet) -> int:  # fmt: skip
    """Speak `text` with espeak-ng into the WAV file `out`, a few sentences at a time; how many
    pieces it took."""
    check_voice(voice)
    chunks = sentence_chunks(text)
    if not chunks:
        raise AudioError("there is nothing to say")
    piece_txt, piece_wav = out.with_name("piece.txt"), out.with_name("piece.wav")
    with wave.open(str(out), "wb") as writer:
        for index, chunk in steps(chunks, "speaking piece", check, report):
            piece_txt.write_text(chunk, encoding="utf-8")
            argv = [ESPEAK, "-b", "1", "-v", voice, "-s", str(speed), "-p", str(pitch), "-f", str(piece_txt)]
            media.run_program([*argv, "-w", str(piece_wav)], check=check)
            with wave.open(str(piece_wav), "rb") as reader:
                if index == 0:
                    writer.setparams(reader.getparams())
                writer.writeframes(reader.readframes(reader.getnframes()))
    return len(chunks)


# ---- tones --------------------------------------------------------------------------------


def waveform(kind: str, cycles: np.ndarray) -> np.ndarray:
    """One of the four waveforms, from -1 to 1, at these phases (in cycles, 0 at the start)."""
    if kind == "sine":
        return np.sin(2 * np.pi * cycles)
    if kind == "square":
        return np.where(cycles % 1.0 < 0.5, 1.0, -1.0)
    if kind == "triangle":
        return 1.0 - 2.0 * np.abs(2.0 * ((cycles + 0.25) % 1.0) - 1.0)
    return 2.0 * ((cycles + 0.5) % 1.0) - 1.0  # sawtooth


def tone_samples(hz: float | None, seconds: float, volume: float, kind: str, rate: int, fade_ms: float) -> np.ndarray:
    """A tone as 16-bit samples, faded in and out linearly (a rest: silence)."""
    count = round(seconds * rate)
    if hz is None or volume == 0 or count == 0:
        return np.zeros(count, dtype="<i2")
    samples = waveform(kind, hz * np.arange(count) / rate) * volume
    fade = min(round(fade_ms / 1000 * rate), count // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
        samples[:fade] *= ramp
        samples[count - fade :] *= ramp[::-1]
    return np.round(samples * 32767).astype("<i2")


def tones_to_wav(p: ToneParams, out: Path, *, check: Check = no_check, report: Report = quiet) -> None:
    """The params' tones one after another, as a mono 16-bit WAV file `out`."""
    with wave.open(str(out), "wb") as writer:
        writer.setparams((1, 2, p.sample_rate, 0, "NONE", "not compressed"))
        for _, tone in steps(p.notes, "tone", check, report):
            samples = tone_samples(tone.hz, tone.seconds, tone.volume, p.waveform, p.sample_rate, p.fade_ms)
            writer.writeframes(samples.tobytes())


# ---- loudness -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalization:
    """What normalising did: how, with what gain, and the levels before and after."""

    mode: Literal["linear", "dynamic"]
    gain_db: float | None
    before: media.Measured
    after: media.Measured


def loudnorm_filter(m: dict[str, str], target: float, ceiling: float) -> str:
    """loudnorm's second pass, with the first's measurements: one gain where the ceiling allows."""
    measured = f"measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}"
    return (f"loudnorm=I={target}:TP={ceiling}:LRA=11:{measured}:measured_thresh={m['input_thresh']}"
            f":offset={m['target_offset']}:linear=true:print_format=json")  # fmt: skip


def normalize_to_wav(source: Path, out: Path, p: NormalizeParams, *, check: Check = no_check,
                     report: Report = quiet) -> Normalization:  # fmt: skip
    """Normalise an audio file (any format ffmpeg reads) into the 16-bit WAV file `out`, at the
    input's sample rate, in mono or stereo. AudioError if it is silent, or if it is too short
    to measure its loudness; FfmpegError if it is not audio ffmpeg reads."""
    before = media.measure(source, check=check, report=lambda s: report(0.05, f"measured {s:.0f} s of the input"))
    if before.levels.peak_dbfs is None:
        raise AudioError("the input is silent")

    def step(start: float, what: str) -> Callable[[float], None]:
        return lambda s: report(start + 0.3 * min(s / max(before.duration_seconds, 0.001), 1.0), what)

    if p.method == "peak":
        gain = (DEFAULT_PEAK if p.peak_db is None else p.peak_db) - before.levels.peak_dbfs
        filters = f"volume={gain:.2f}dB"
    elif before.levels.loudness_lufs is None:
        raise AudioError("the input is too short or too quiet to measure its loudness; try method peak")
    else:
        target = DEFAULT_LUFS if p.target_lufs is None else p.target_lufs
        ceiling = DEFAULT_TRUE_PEAK if p.true_peak_db is None else p.true_peak_db
        filters = loudnorm_filter(before.loudnorm, target, ceiling)
        gain = target - before.levels.loudness_lufs
    downmix = [] if before.layout in ("mono", "stereo", "1 channels", "2 channels") else ["-ac", "2"]
    args = ["-i", str(source), "-vn", "-af", filters, "-ar", str(before.sample_rate), *downmix, "-c:a", "pcm_s16le"]
    log = media.ffmpeg([*args, str(out)], check=check, report=step(0.2, "normalising")).log
    mode: Literal["linear", "dynamic"] = "dynamic" if '"normalization_type" : "dynamic"' in log else "linear"
    after = media.measure(out, check=check, report=step(0.5, "measuring the output"))
    return Normalization(mode, round(gain, 2) if mode == "linear" else None, before, after)


# ---- operations ---------------------------------------------------------------------------


def store(ctx: JobContext, wav: Path, fmt: AudioFormat, name: str | None, stem: str) -> ArtifactView:
    """Encode the WAV as asked and save it as the job's artifact."""
    ctx.progress(0.85, "encoding" if fmt == "ogg" else "storing")
    path = encode(wav, fmt, check=ctx.raise_if_cancelled)
    ctx.progress(0.9, "storing")
    return ctx.save_artifact(name or f"{stem}.{fmt}", path, CONTENT_TYPES[fmt])


def scaled(ctx: JobContext, share: float) -> Report:
    """Progress of a step that takes the first `share` of the job."""
    return lambda fraction, message: ctx.progress(share * fraction, message)


@operation(SPEAK, permanent_errors=(AudioError, MediaError))
def speak(ctx: JobContext, p: SpeakParams) -> Speech:
    """Speech from text, stored as the job's artifact."""
    wav = ctx.workdir() / "speech.wav"
    chunks = speak_to_wav(p.text, wav, voice=p.voice, speed=p.speed, pitch=p.pitch,
                          check=ctx.raise_if_cancelled, report=scaled(ctx, 0.8))  # fmt: skip
    duration, rate, _ = wav_info(wav)
    artifact = store(ctx, wav, p.format, p.name, "speech")
    return Speech(artifact=artifact, format=p.format, duration_seconds=round(duration, 3), sample_rate=rate,
                  voice=p.voice, words=len(p.text.split()), chunks=chunks)  # fmt: skip


@operation(SYNTHESIZE_TONES, permanent_errors=(AudioError, MediaError))
def synthesize_tones(ctx: JobContext, p: ToneParams) -> Tones:
    """A sequence of tones, stored as the job's artifact."""
    wav = ctx.workdir() / "tones.wav"
    tones_to_wav(p, wav, check=ctx.raise_if_cancelled, report=scaled(ctx, 0.8))
    duration, rate, _ = wav_info(wav)
    artifact = store(ctx, wav, p.format, p.name, "tones")
    return Tones(artifact=artifact, format=p.format, duration_seconds=round(duration, 3), sample_rate=rate,
                 notes=len(p.notes))  # fmt: skip


@operation(NORMALIZE, permanent_errors=(AudioError, MediaError))
def normalize(ctx: JobContext, p: NormalizeParams) -> Normalized:
    """An input artifact normalised in loudness or peak, stored as the job's artifact."""
    ctx.progress(0.0, f"fetching {p.input.ref}")
    source = ctx.fetch_artifact(p.input).path
    wav = ctx.workdir() / "normalized.wav"
    done = normalize_to_wav(source, wav, p, check=ctx.raise_if_cancelled, report=scaled(ctx, 0.8))
    duration, rate, channels = wav_info(wav)
    artifact = store(ctx, wav, p.format, p.name, "normalized")
    return Normalized(artifact=artifact, format=p.format, method=p.method, mode=done.mode,
                      gain_db=done.gain_db, duration_seconds=round(duration, 3), sample_rate=rate, channels=channels,
                      input_levels=done.before.levels, output_levels=done.after.levels)  # fmt: skip
