"""The audio_generation engine's pure half: speech, tones and normalisation, decoded and measured."""

from __future__ import annotations

import time
import wave
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from actors import media
from actors.engines.audio_generation import (
    AudioError,
    encode,
    normalize_to_wav,
    sentence_chunks,
    speak_to_wav,
    tones_to_wav,
    wav_info,
)
from schemas.artifacts import EXAMPLE_JOB_ID
from schemas.contracts.audio_generation import NormalizeParams, SpeakParams, ToneParams, note_frequency

TEXT = (
    "Conveyor runs background jobs for you. It keeps every job in PostgreSQL, and it sends each one through "
    "RabbitMQ to a worker that runs it. Progress, retries and dead letters come built in. "
)


def samples(path: Path) -> tuple[np.ndarray, int, int]:
    """A 16-bit WAV's samples (as floats, full scale 1), its sample rate and channels."""
    with wave.open(str(path), "rb") as reader:
        assert reader.getsampwidth() == 2
        data = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(float) / 32768
        return data, reader.getframerate(), reader.getnchannels()


def tones(**params: Any) -> ToneParams:
    return msgspec.convert(params, ToneParams)


def normalizing(**params: Any) -> NormalizeParams:
    return msgspec.convert({"input": {"$artifact": f"{EXAMPLE_JOB_ID}/in.wav"}, **params}, NormalizeParams)


def dominant_hz(data: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(data * np.hanning(len(data))))
    return float(np.fft.rfftfreq(len(data), 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("speed", [80, 175, 300, 450])
def test_speech_lasts_about_as_long_as_its_words_take_at_the_speed(tmp_path: Path, speed: int) -> None:
    # Given a text of 99 words, spoken at `speed` words per minute
    text = TEXT * 3
    out = tmp_path / "speech.wav"
    # When espeak-ng speaks it
    speak_to_wav(text, out, voice="en-us", speed=speed, pitch=50)
    # Then the WAV lasts within 20 % of words / speed minutes, and it is sound, not silence
    data, rate, channels = samples(out)
    expected = len(text.split()) / speed * 60
    assert (rate, channels) == (22050, 1)
    assert abs(len(data) / rate - expected) <= 0.2 * expected
    assert np.sqrt(np.mean(data**2)) > 0.02


def test_a_long_text_is_spoken_a_few_sentences_at_a_time_reporting_each(tmp_path: Path) -> None:
    reports: list[tuple[float, str]] = []
    text = TEXT * 12
    chunks = speak_to_wav(text, tmp_path / "long.wav", voice="en-gb", speed=250, pitch=40,
                          report=lambda fraction, message: reports.append((fraction, message)))  # fmt: skip
    assert chunks == len(sentence_chunks(text)) > 3
    assert [fraction for fraction, _ in reports] == sorted(fraction for fraction, _ in reports)
    assert reports[-1][1] == f"speaking piece {chunks} of {chunks}"
    assert wav_info(tmp_path / "long.wav")[0] > 60


def test_chunks_keep_sentences_whole_and_cut_only_what_is_too_long() -> None:
    text = "One two three. Four five! " + "word " * 200 + "x" * 30
    chunks = sentence_chunks(text, limit=25)
    assert chunks[0] == "One two three. Four five!"
    assert all(len(chunk) <= 25 for chunk in chunks)
    assert " ".join(chunks).split() == ["One", "two", "three.", "Four", "five!", *["word"] * 200, "x" * 25, "x" * 5]


@pytest.mark.parametrize(("voice", "said"), [("xx-yy", "no voice 'xx-yy'"), ("en-uss", "did you mean en-us"),
                                             ("en-us+f33", "no variant 'f33'")])  # fmt: skip
def test_a_voice_espeak_ng_lacks_is_refused_naming_the_nearest(tmp_path: Path, voice: str, said: str) -> None:
    with pytest.raises(AudioError, match=said):
        speak_to_wav("Hello.", tmp_path / "x.wav", voice=voice, speed=175, pitch=50)
    assert not (tmp_path / "x.wav").exists()


def test_a_variant_and_another_language_speak(tmp_path: Path) -> None:
    speak_to_wav("Guten Morgen, wie geht es dir?", tmp_path / "de.wav", voice="de+f3", speed=175, pitch=50)
    assert 0.8 < wav_info(tmp_path / "de.wav")[0] < 4


def test_a_cancelled_program_is_killed_within_a_poll(tmp_path: Path) -> None:
    # Given a program that would run for a minute, and a job cancelled a moment after it starts
    started = time.monotonic()

    def check() -> None:
        if time.monotonic() - started > 0.3:
            raise KeyboardInterrupt  # stands for JobCancelled

    # When the runner polls, Then it raises at once and the program is gone
    with pytest.raises(KeyboardInterrupt):
        media.run_program(["sh", "-c", f"echo $$ > {tmp_path / 'pid'}; exec sleep 60"], check=check)
    assert time.monotonic() - started < 1.5
    pid = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_failing_program_is_a_media_error_with_its_last_words() -> None:
    with pytest.raises(media.MediaError, match="sh failed: oops"):
        media.run_program(["sh", "-c", "echo oops >&2; exit 3"])
    with pytest.raises(media.MediaError, match="not installed"):
        media.run_program(["no-such-program-here"])


def test_ogg_is_vorbis_of_the_same_sound(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    tones_to_wav(tones(notes=[{"note": "A4", "seconds": 2.0}], sample_rate=48000), wav)
    ogg = encode(wav, "ogg")
    assert ogg.read_bytes()[:4] == b"OggS" and b"vorbis" in ogg.read_bytes()[:200]
    back = tmp_path / "back.wav"
    media.ffmpeg(["-i", str(ogg), "-c:a", "pcm_s16le", str(back)])
    data, rate, _ = samples(back)
    assert rate == 48000 and abs(len(data) / rate - 2.0) < 0.05
    assert abs(dominant_hz(data, rate) - 440) < 2
    assert encode(wav, "wav") == wav


def test_note_names_are_equal_tempered_around_a440() -> None:
    assert note_frequency("A4") == 440.0
    assert note_frequency("A5") == 880.0
    assert round(note_frequency("C4") or 0, 2) == 261.63
    assert note_frequency("A#3") == note_frequency("Bb3") == pytest.approx(233.08, abs=0.01)
    assert note_frequency("rest") is None


@pytest.mark.parametrize("kind", ["sine", "square", "triangle", "sawtooth"])
def test_each_waveform_sounds_its_notes_for_their_durations(tmp_path: Path, kind: str) -> None:
    # Given A4 for half a second, a rest, and 1 kHz louder
    notes = [
        {"note": "A4", "seconds": 0.5, "volume": 0.4},
        {"note": "rest", "seconds": 0.25},
        {"frequency": 1000, "seconds": 0.5, "volume": 0.8},
    ]
    params = tones(notes=notes, waveform=kind, sample_rate=16000)
    out = tmp_path / "t.wav"
    tones_to_wav(params, out)
    data, rate, channels = samples(out)
    # Then the WAV lasts 1.25 s, at the rate asked, in mono
    assert (len(data), rate, channels) == (20000, 16000, 1)
    a4, rest, khz = data[:8000], data[8000:12000], data[12000:]
    # And each tone has its pitch and level, and the rest is silent
    assert abs(dominant_hz(a4, rate) - 440) < 3 and abs(dominant_hz(khz, rate) - 1000) < 3
    assert np.max(np.abs(a4)) == pytest.approx(0.4, abs=0.01)
    assert np.max(np.abs(khz)) == pytest.approx(0.8, abs=0.01)
    assert not rest.any()
    # And each tone fades in and out over 10 ms (160 samples), so no edge clicks
    assert abs(a4[0]) < 0.01 and abs(khz[-1]) < 0.01
    assert np.max(np.abs(a4[:40])) < 0.4 * 40 / 160 + 0.01


def test_tone_params_refuse_what_cannot_sound() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"either `note` or `frequency` - at `\$.notes\[0\]`"):
        tones(notes=[{"note": "A4", "frequency": 440}])
    with pytest.raises(msgspec.ValidationError, match=r"either"):
        tones(notes=[{"seconds": 1}])
    with pytest.raises(
        msgspec.ValidationError,
        match=r"7902 Hz cannot be sampled at 8000 Hz \(at most half of it\) - at `\$.notes\[1\]`",
    ):
        tones(notes=[{"note": "A4"}, {"note": "B8"}], sample_rate=8000)
    with pytest.raises(msgspec.ValidationError, match=r"more than 600 - at `\$.notes`"):
        tones(notes=[{"note": "A4", "seconds": 60}] * 11)
    with pytest.raises(msgspec.ValidationError, match=r"at `\$.notes\[0\].note`"):
        tones(notes=[{"note": "H4"}])


def test_speak_and_normalize_params_refuse_bad_values() -> None:
    for params in ({"text": "   "}, {"text": "Hi", "voice": "en us"}, {"text": "Hi", "speed": 500}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(params, SpeakParams)
    with pytest.raises(msgspec.ValidationError, match=r"for method loudness - at `\$.target_lufs`"):
        normalizing(method="peak", target_lufs=-20)
    with pytest.raises(msgspec.ValidationError, match=r"for method peak - at `\$.peak_db`"):
        normalizing(peak_db=-3)


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    out = tmp_path / "speech.wav"
    speak_to_wav(TEXT, out, voice="en-us", speed=175, pitch=50)
    return out


def test_peak_normalising_brings_the_highest_sample_to_the_level(tmp_path: Path, speech: Path) -> None:
    done = normalize_to_wav(speech, tmp_path / "out.wav", normalizing(method="peak", peak_db=-6))
    data, rate, _ = samples(tmp_path / "out.wav")
    before, _, _ = samples(speech)
    assert done.mode == "linear" and done.gain_db is not None
    assert 20 * np.log10(np.max(np.abs(data))) == pytest.approx(-6, abs=0.15)
    assert done.after.levels.peak_dbfs == pytest.approx(-6, abs=0.15)
    assert done.before.levels.peak_dbfs == pytest.approx(20 * np.log10(np.max(np.abs(before))), abs=0.1)
    # And loudness moves by the same gain, the length stays
    assert done.after.levels.loudness_lufs == pytest.approx(
        (done.before.levels.loudness_lufs or 0) + done.gain_db, abs=0.2
    )
    assert len(data) == len(before) and rate == 22050


def test_loudness_normalising_reaches_the_target_with_one_gain_where_the_ceiling_allows(
    tmp_path: Path, speech: Path
) -> None:
    # Given speech at about -21 LUFS, When it is brought to -26 (quieter: one gain fits)
    done = normalize_to_wav(speech, tmp_path / "out.wav", normalizing(target_lufs=-26))
    # Then the output measures -26 LUFS, by a linear gain of about -5 dB
    assert done.mode == "linear"
    assert done.after.levels.loudness_lufs == pytest.approx(-26, abs=0.5)
    assert done.gain_db == pytest.approx(-26 - (done.before.levels.loudness_lufs or 0), abs=0.01)
    assert wav_info(tmp_path / "out.wav")[1:] == (22050, 1)


def test_loudness_normalising_louder_than_the_ceiling_allows_limits_under_it(tmp_path: Path, speech: Path) -> None:
    done = normalize_to_wav(speech, tmp_path / "out.wav", normalizing(target_lufs=-12, true_peak_db=-2))
    assert done.mode == "dynamic" and done.gain_db is None
    assert (done.after.levels.true_peak_dbtp or 0) <= -2 + 0.3
    assert (done.after.levels.loudness_lufs or -99) > (done.before.levels.loudness_lufs or 0) + 2


def test_a_stereo_ogg_stays_stereo_and_surround_is_downmixed(tmp_path: Path) -> None:
    for channels, expected in ((2, 2), (6, 2)):
        source = tmp_path / f"in{channels}.ogg"
        media.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=330:duration=2", "-ac", str(channels), "-c:a",
                      "libvorbis", str(source)])  # fmt: skip
        done = normalize_to_wav(source, tmp_path / "out.wav", normalizing(target_lufs=-20))
        duration, rate, got = wav_info(tmp_path / "out.wav")
        assert (got, rate) == (expected, 44100) and abs(duration - 2) < 0.05
        assert done.before.duration_seconds == pytest.approx(2, abs=0.05)


def test_silence_noise_and_a_blip_are_refused_with_reasons(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    tones_to_wav(tones(notes=[{"note": "rest", "seconds": 1}]), silent)
    with pytest.raises(AudioError, match="silent"):
        normalize_to_wav(silent, tmp_path / "out.wav", normalizing(method="peak"))
    blip = tmp_path / "blip.wav"
    tones_to_wav(tones(notes=[{"note": "A4", "seconds": 0.2}]), blip)
    with pytest.raises(AudioError, match="too short"):
        normalize_to_wav(blip, tmp_path / "out.wav", normalizing())
    assert normalize_to_wav(blip, tmp_path / "out.wav", normalizing(method="peak")).after.levels.loudness_lufs is None
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(media.FfmpegError, match="not audio ffmpeg can read"):
        media.measure(junk)


def test_tones_stop_at_the_next_tone_once_cancelled(tmp_path: Path) -> None:
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt  # stands for JobCancelled

    with pytest.raises(KeyboardInterrupt):
        tones_to_wav(tones(notes=[{"note": "A4", "seconds": 1}] * 10), tmp_path / "t.wav", check=check)
    assert len(calls) == 3
