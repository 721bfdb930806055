"""Contracts of the `audio_generation` engine: speech (espeak-ng), tones (numpy) and loudness
normalisation (ffmpeg), made locally and stored as the job's artifacts."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.artifacts import EXAMPLE_JOB_ID, ArtifactInput, ArtifactView
from schemas.contracts import FFMPEG_ERROR, MEDIA_ERROR, ErrorType, contract

AudioFormat = Literal["wav", "ogg"]
Waveform = Literal["sine", "square", "triangle", "sawtooth"]
SampleRate = Literal[8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]
ArtifactName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]

#: An espeak-ng voice: a language (`en-us`, `de`, `en-gb-x-rp`), optionally `+` a variant (`+f3`).
VOICE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}(\+[A-Za-z0-9]{1,32})?$"
#: A note name: letter, `#` or `b`, octave 0–8 (A4 is 440 Hz); or `rest`.
NOTE = r"^([A-G])([#b]?)([0-8])$|^rest$"
SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAX_TEXT = 10_000
MAX_TONE_SECONDS = 600.0


def note_frequency(note: str) -> float | None:
    """The frequency of a note name in equal temperament (A4 = 440 Hz); None for `rest`."""
    found = re.fullmatch(NOTE, note)
    if found is None:
        raise ValueError(f"not a note: {note!r}")
    if note == "rest":
        return None
    letter, accidental, octave = found.group(1, 2, 3)
    midi = 12 * (int(octave) + 1) + SEMITONES[letter] + {"#": 1, "b": -1, "": 0}[accidental]
    return 440.0 * 2 ** ((midi - 69) / 12)


#: What audio operations may fail with, besides COMMON_ERRORS.
AUDIO_ERRORS = (
    MEDIA_ERROR,
    FFMPEG_ERROR,
    ErrorType("AudioError", "permanent", "Input that cannot become audio: an unknown voice, a file that is not sound."),
)


class SpeakParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: What to say (plain text; sentences are spoken a few at a time).
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT, pattern=r"\w")]
    #: An espeak-ng voice (`espeak-ng --voices`), with an optional variant (`en-us+f3`).
    voice: Annotated[str, Meta(pattern=VOICE, description="espeak-ng voice, e.g. en-us or de+f3")] = "en-us"
    #: Words per minute.
    speed: Annotated[int, Meta(ge=80, le=450)] = 175
    pitch: Annotated[int, Meta(ge=0, le=99)] = 50
    format: AudioFormat = "wav"
    #: The artifact's name (default `speech.wav` or `speech.ogg`).
    name: ArtifactName | None = None


class Speech(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    format: AudioFormat
    duration_seconds: float
    sample_rate: int
    voice: str
    #: Words in the text (the duration is about words / speed minutes).
    words: int
    #: How many pieces of the text espeak-ng spoke in turn.
    chunks: int


class Tone(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A note by name, or a frequency; exactly one of the two (`rest` is silence)."""

    note: Annotated[str, Meta(pattern=NOTE, description="A4, C#5, Bb3 (octaves 0–8), or rest")] | None = None
    frequency: Annotated[float, Meta(ge=20, le=20_000, description="Hz")] | None = None
    seconds: Annotated[float, Meta(gt=0, le=60)] = 0.5
    #: Amplitude, a share of full scale.
    volume: Annotated[float, Meta(ge=0, le=1)] = 0.5

    def __post_init__(self) -> None:
        if (self.note is None) == (self.frequency is None):
            raise ValueError("a tone takes either `note` or `frequency`")

    @property
    def hz(self) -> float | None:
        """Its frequency, None for a rest."""
        return self.frequency if self.note is None else note_frequency(self.note)


class ToneParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: Played one after another.
    notes: Annotated[list[Tone], Meta(min_length=1, max_length=2000)]
    waveform: Waveform = "sine"
    sample_rate: SampleRate = 44100
    #: Fade in and out of each tone, in milliseconds (against clicks; at most half the tone).
    fade_ms: Annotated[float, Meta(ge=0, le=100)] = 10.0
    format: AudioFormat = "wav"
    #: The artifact's name (default `tones.wav` or `tones.ogg`).
    name: ArtifactName | None = None

    def __post_init__(self) -> None:
        total = sum(tone.seconds for tone in self.notes)
        if total > MAX_TONE_SECONDS:
            raise ValueError(f"the tones last {total:g} s, more than {MAX_TONE_SECONDS:g} - at `$.notes`")
        for index, tone in enumerate(self.notes):
            hz = tone.hz
            if hz is not None and hz >= self.sample_rate / 2:
                raise ValueError(
                    f"{hz:.0f} Hz cannot be sampled at {self.sample_rate} Hz (at most half of it) "
                    f"- at `$.notes[{index}]`"
                )


class Tones(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    format: AudioFormat
    duration_seconds: float
    sample_rate: int
    notes: int


class NormalizeParams(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    #: An audio artifact (WAV, OGG, MP3, FLAC … or a video's sound) of an earlier job.
    input: ArtifactInput
    #: `loudness`: EBU R128 integrated loudness (ffmpeg loudnorm, two passes); `peak`: one gain
    #: that brings the highest sample to `peak_db`.
    method: Literal["loudness", "peak"] = "loudness"
    #: loudness: the integrated loudness to reach, LUFS (default −16).
    target_lufs: Annotated[float, Meta(ge=-70, le=-5)] | None = None
    #: loudness: the true-peak ceiling, dBTP (default −1.5).
    true_peak_db: Annotated[float, Meta(ge=-9, le=0)] | None = None
    #: peak: the sample peak to reach, dBFS (default −1).
    peak_db: Annotated[float, Meta(ge=-60, le=0)] | None = None
    format: AudioFormat = "wav"
    #: The artifact's name (default `normalized.wav` or `normalized.ogg`).
    name: ArtifactName | None = None

    def __post_init__(self) -> None:
        if self.method == "peak" and (self.target_lufs is not None or self.true_peak_db is not None):
            field = "target_lufs" if self.target_lufs is not None else "true_peak_db"
            raise ValueError(f"{field} is for method loudness - at `$.{field}`")
        if self.method == "loudness" and self.peak_db is not None:
            raise ValueError("peak_db is for method peak - at `$.peak_db`")


class Levels(msgspec.Struct, kw_only=True):
    #: The highest sample, dBFS (None: digital silence).
    peak_dbfs: float | None
    #: The highest inter-sample peak, dBTP.
    true_peak_dbtp: float | None
    #: Integrated loudness, LUFS (None: too short or too quiet to measure, under 0.4 s).
    loudness_lufs: float | None


class Normalized(msgspec.Struct, kw_only=True):
    artifact: ArtifactView
    format: AudioFormat
    method: Literal["loudness", "peak"]
    #: `linear`: one gain for the whole; `dynamic`: loudnorm had to compress to stay under the ceiling.
    mode: Literal["linear", "dynamic"]
    #: The gain applied, dB (None in dynamic mode).
    gain_db: float | None
    duration_seconds: float
    sample_rate: int
    channels: int
    input_levels: Levels
    output_levels: Levels


SPEAK = contract(
    "audio_generation",
    "speak",
    params=SpeakParams,
    result=Speech,
    description=(
        "Text to speech with espeak-ng, locally: a voice (language, optional variant), speed in words per "
        "minute and pitch; WAV or Ogg Vorbis, stored as the job's artifact, with its duration."
    ),
    example={"text": "Your export is ready. It has three files.", "voice": "en-us", "speed": 160},
    timeout_seconds=600,
    errors=AUDIO_ERRORS,
)

SYNTHESIZE_TONES = contract(
    "audio_generation",
    "synthesize_tones",
    params=ToneParams,
    result=Tones,
    description=(
        "A sequence of tones (note names such as A4 or frequencies, each with a duration and volume; "
        "`rest` for silence) in one waveform, faded in and out against clicks; WAV or Ogg Vorbis."
    ),
    example={
        "notes": [
            {"note": "C5", "seconds": 0.15},
            {"note": "E5", "seconds": 0.15},
            {"note": "G5", "seconds": 0.3, "volume": 0.4},
        ],
        "waveform": "triangle",
    },
    timeout_seconds=300,
    errors=AUDIO_ERRORS,
)

NORMALIZE = contract(
    "audio_generation",
    "normalize",
    params=NormalizeParams,
    result=Normalized,
    description=(
        "Normalise an audio artifact to a loudness (EBU R128, LUFS, under a true-peak ceiling) or a peak "
        "level; WAV or Ogg Vorbis, with the input's and output's peak and loudness."
    ),
    example={"input": {"$artifact": f"{EXAMPLE_JOB_ID}/speech.wav"}, "target_lufs": -16},
    timeout_seconds=900,
    errors=AUDIO_ERRORS,
)
