"""The audio_generation engine through the gateway: speech and tones become WAV and Ogg
artifacts a client downloads and plays; one job's output is normalised by another; a long speech
stops when cancelled; bad params, unknown voices and another tenant's inputs are refused."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from actors import media
from tests.support.api import wait_for_status
from tests.support.system import System

TEXT = "Your export is ready. It has three files, and a summary of what changed since last week."


async def download(client: httpx.AsyncClient, job: dict[str, Any]) -> bytes:
    """The artifact a job's result names, fetched over HTTP (checked against its size and type)."""
    artifact = job["result"]["artifact"]
    response = await client.get(f"/v1/jobs/{job['id']}/artifacts/{artifact['name']}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == artifact["content_type"]
    assert len(response.content) == artifact["size"]
    return response.content


async def submit(client: httpx.AsyncClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run a job to success; the job."""
    body = {"engine": "audio_generation", "operation": operation, "params": params}
    accepted = await client.post("/v1/jobs", json=body)
    assert accepted.status_code == 202, accepted.text
    done = await wait_for_status(client, accepted.json()["id"], "succeeded", "failed", timeout=60)
    assert done["status"] == "succeeded", done
    return done


def decoded(data: bytes) -> tuple[np.ndarray, int]:
    """A 16-bit mono WAV's samples (full scale 1) and sample rate."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        assert (reader.getsampwidth(), reader.getnchannels()) == (2, 1)
        frames = reader.readframes(reader.getnframes())
        return np.frombuffer(frames, dtype="<i2").astype(float) / 32768, reader.getframerate()


async def test_speech_is_a_wav_as_long_as_its_words_take_and_an_ogg_on_request(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # Given a text of 17 words, spoken at 150 words per minute
    job = await submit(client, "speak", {"text": TEXT, "speed": 150})
    result = job["result"]
    # Then the WAV served is speech that lasts about 17 / 150 minutes, as the result says
    samples, rate = decoded(await download(client, job))
    expected = 17 / 150 * 60
    assert result["words"] == 17 and result["voice"] == "en-us" and result["sample_rate"] == rate == 22050
    assert abs(len(samples) / rate - expected) <= 0.2 * expected
    assert abs(result["duration_seconds"] - len(samples) / rate) < 0.01
    assert np.sqrt(np.mean(samples**2)) > 0.02
    # And as Ogg Vorbis, under a name of the client's, it decodes to the same length
    job = await submit(client, "speak", {"text": TEXT, "voice": "en-gb+f3", "format": "ogg", "name": "ready.ogg"})
    data = await download(client, job)
    assert job["result"]["artifact"]["name"] == "ready.ogg" and data[:4] == b"OggS"
    (tmp_path / "ready.ogg").write_bytes(data)
    media.ffmpeg(["-i", str(tmp_path / "ready.ogg"), "-c:a", "pcm_s16le", str(tmp_path / "back.wav")])
    samples, rate = decoded((tmp_path / "back.wav").read_bytes())
    assert abs(len(samples) / rate - job["result"]["duration_seconds"]) < 0.05


async def test_tones_normalised_by_another_job_reach_the_peak_and_the_loudness_asked(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # Given a quiet two-note square wave, peaking at -30 dBFS
    notes = [{"note": "A4", "seconds": 1.0, "volume": 0.0316}, {"frequency": 660, "seconds": 1.0, "volume": 0.02}]
    tones = await submit(client, "synthesize_tones", {"notes": notes, "waveform": "square", "sample_rate": 48000})
    assert tones["result"]["duration_seconds"] == 2.0 and tones["result"]["notes"] == 2
    samples, rate = decoded(await download(client, tones))
    assert rate == 48000 and len(samples) == 96000
    assert np.max(np.abs(samples[:48000])) == np.max(np.abs(samples)) > 0.031
    source = {"$artifact": f"{tones['id']}/{tones['result']['artifact']['name']}"}
    # When one job brings its peak to -3 dBFS and another its loudness to -23 LUFS
    peak = await submit(client, "normalize", {"input": source, "method": "peak", "peak_db": -3})
    loud = await submit(client, "normalize", {"input": source, "target_lufs": -23, "format": "ogg"})
    # Then the peak-normalised WAV served peaks at -3 dBFS, 27 dB up
    samples, rate = decoded(await download(client, peak))
    assert 20 * np.log10(np.max(np.abs(samples))) == pytest.approx(-3, abs=0.15)
    assert peak["result"]["gain_db"] == pytest.approx(27.0, abs=0.2) and peak["result"]["mode"] == "linear"
    assert peak["result"]["input_levels"]["peak_dbfs"] == pytest.approx(-30.0, abs=0.2)
    # And the loudness-normalised Ogg measures -23 LUFS, as its result says
    (tmp_path / "loud.ogg").write_bytes(await download(client, loud))
    measured = media.measure(tmp_path / "loud.ogg")
    assert measured.levels.loudness_lufs == pytest.approx(-23, abs=0.5)
    assert loud["result"]["output_levels"]["loudness_lufs"] == pytest.approx(-23, abs=0.5)
    assert loud["result"]["input_levels"]["loudness_lufs"] < -23 and loud["result"]["mode"] == "linear"
    assert abs(measured.duration_seconds - 2.0) < 0.05 and loud["result"]["sample_rate"] == 48000


async def test_a_long_speech_stops_when_cancelled(client: httpx.AsyncClient) -> None:
    # Given a speech of 10,000 characters at the slowest speed, running
    text = ("Every job has a state, a history and a result. " * 210)[:10_000]
    accepted = await client.post(
        "/v1/jobs", json={"engine": "audio_generation", "operation": "speak", "params": {"text": text, "speed": 80}}
    )
    job_id = accepted.json()["id"]
    await wait_for_status(client, job_id, "running", timeout=30)
    # When it is cancelled, Then it stops within a few seconds, with nothing stored
    assert (await client.post(f"/v1/jobs/{job_id}/cancel")).status_code in (200, 202)
    done = await wait_for_status(client, job_id, "cancelled", "succeeded", "failed", timeout=10)
    assert done["status"] == "cancelled", done
    assert (await client.get(f"/v1/jobs/{job_id}/artifacts")).json()["items"] == []


async def test_bad_params_are_refused_at_submission_naming_the_field(client: httpx.AsyncClient) -> None:
    for operation, params, field in (
        ("speak", {"text": "Hi", "voice": "en us"}, "params.voice"),
        ("speak", {"text": "Hi", "speed": 600}, "params.speed"),
        ("speak", {"text": "x" * 10_001}, "params.text"),
        ("synthesize_tones", {"notes": [{"note": "A4", "frequency": 440}]}, "params.notes[0]"),
        ("synthesize_tones", {"notes": [{"note": "H2"}]}, "params.notes[0].note"),
        ("synthesize_tones", {"notes": [{"note": "C8"}], "sample_rate": 8000}, "params.notes[0]"),
        ("normalize", {"input": {"$artifact": "nope"}}, "params.input.$artifact"),
        (
            "normalize",
            {"input": {"$artifact": "01234567-89ab-7def-8123-456789abcdef/a.wav"}, "method": "peak", "target_lufs": -9},
            "params.target_lufs",
        ),
    ):
        body = {"engine": "audio_generation", "operation": operation, "params": params}
        refused = await client.post("/v1/jobs", json=body)
        assert refused.status_code == 422, (params, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == [field], refused.text


async def test_a_voice_espeak_ng_lacks_fails_at_once_saying_so(client: httpx.AsyncClient) -> None:
    body = {"engine": "audio_generation", "operation": "speak", "params": {"text": "Hi", "voice": "en-uss"}}
    accepted = await client.post("/v1/jobs", json=body)
    assert accepted.status_code == 202, accepted.text
    done = await wait_for_status(client, accepted.json()["id"], "succeeded", "failed", timeout=30)
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "no voice 'en-uss'; did you mean en-us" in done["error"]["message"]


async def test_an_input_of_another_tenant_is_refused_at_submission(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # Given tones of one tenant's, When another asks to normalise them, Then it is refused
    tones = await submit(client, "synthesize_tones", {"notes": [{"note": "A4"}]})
    ref = f"{tones['id']}/{tones['result']['artifact']['name']}"
    async with shared_system.client(await shared_system.api_key("audio-stranger")) as stranger:
        body = {"engine": "audio_generation", "operation": "normalize", "params": {"input": {"$artifact": ref}}}
        refused = await stranger.post("/v1/jobs", json=body)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["params.input"]
