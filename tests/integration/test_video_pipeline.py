"""The video_pipeline engine through the gateway: cards and a soundtrack become a playable MP4,
which becomes a WebM, a GIF and an MP3; a slideshow stops when cancelled; bad params and another
tenant's inputs are refused at submission."""

from __future__ import annotations

import hashlib
import io
import math
import os
import secrets
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from actors import media
from infra import artifacts
from schemas.ids import uuid7
from tests.integration.test_engines import with_inputs
from tests.integration.test_text_intelligence import run
from tests.support.api import wait_for_status
from tests.support.system import System, eventually

Tenant = tuple[str, httpx.AsyncClient]


@pytest.fixture
async def tenant(shared_system: System) -> AsyncIterator[Tenant]:
    """A tenant of this test's own, by name, and an HTTP client acting for it."""
    name = f"video-{secrets.token_hex(4)}"
    async with shared_system.client(await shared_system.api_key(name)) as http:
        yield name, http


def tone_wav(seconds: float, rate: int = 22050) -> bytes:
    """A 440 Hz mono WAV."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        samples = (int(8000 * math.sin(2 * math.pi * 440 * n / rate)) for n in range(int(seconds * rate)))
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


async def stored_artifact(system: System, tenant: str, name: str, data: bytes, content_type: str) -> str:
    """An artifact of a finished job of `tenant`, written as a worker writes one; its `<job id>/<name>`."""
    pool = await system.pool()
    try:
        job_id = uuid7()
        await pool.execute(
            "INSERT INTO jobs (id, tenant, engine, operation, status, attempts, params, priority, max_retries, "
            "retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds) "
            "VALUES ($1, $2, 'audio_generation', 'speak', 'running', 1, '{}', 5, 3, 2, 300, 60)",
            job_id,
            tenant,
        )
        assert await artifacts.begin(pool, job_id, name, content_type, 1)
        assert await artifacts.add_chunk(pool, job_id, name, 0, data, 1)
        assert await artifacts.finish(pool, job_id, name, len(data), hashlib.sha256(data).hexdigest(), 1)
        await pool.execute("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = $1", job_id)
    finally:
        await pool.close()
    return f"{job_id}/{name}"


async def card(http: httpx.AsyncClient, title: str, palette: str) -> dict[str, str]:
    """An image_generation card (800 × 420) as an input artifact."""
    params = {"title": title, "palette": palette, "width": 800, "height": 420}
    job = await http.post("/v1/jobs", json={"engine": "image_generation", "operation": "render_card", "params": params})
    assert job.status_code == 202, job.text
    done = await wait_for_status(http, job.json()["id"], "succeeded", "failed", timeout=60)
    assert done["status"] == "succeeded", done
    return {"$artifact": f"{done['id']}/{done['result']['artifact']['name']}"}


async def submit(http: httpx.AsyncClient, operation: str, params: dict[str, Any]) -> httpx.Response:
    return await http.post("/v1/jobs", json={"engine": "video_pipeline", "operation": operation, "params": params})


async def output(http: httpx.AsyncClient, job_id: str, result: dict[str, Any], tmp_path: Path) -> media.MediaInfo:
    """The job's artifact, fetched over HTTP and probed by the same ffmpeg."""
    fetched = await http.get(f"/v1/jobs/{job_id}/artifacts/{result['artifact']['name']}")
    assert fetched.status_code == 200 and fetched.headers["content-type"] == result["artifact"]["content_type"]
    assert hashlib.sha256(fetched.content).hexdigest() == result["artifact"]["sha256"]
    path = tmp_path / f"{job_id}-{result['artifact']['name']}"
    path.write_bytes(fetched.content)
    return media.probe(path)


async def run_job(http: httpx.AsyncClient, operation: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    accepted = await submit(http, operation, params)
    assert accepted.status_code == 202, accepted.text
    done = await wait_for_status(http, accepted.json()["id"], "succeeded", "failed", timeout=90)
    assert done["status"] == "succeeded", done
    return done["id"], done["result"]


async def test_cards_and_a_soundtrack_become_an_mp4_then_a_webm_an_mp3_and_a_gif(
    tenant: Tenant, shared_system: System, tmp_path: Path
) -> None:
    name, http = tenant
    # Given two rendered cards and a 3 s soundtrack of the tenant's
    cards = [await card(http, "First slide", "ocean"), await card(http, "Second slide", "sunrise")]
    audio = await stored_artifact(shared_system, name, "tone.wav", tone_wav(3.0), "audio/wav")
    # When they become a slideshow fitted to the soundtrack, 640 px wide, with a crossfade
    params = {"images": cards, "audio": {"$artifact": audio}, "fit_to_audio": True, "width": 640, "fps": 24,
              "transition": "crossfade"}  # fmt: skip
    show_id, show = await run_job(http, "slideshow", params)
    # Then the MP4 served lasts the soundtrack's 3 s, has H.264 video of the cards' shape and AAC audio
    info = await output(http, show_id, show, tmp_path)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert info.video is not None and (info.video.codec, info.video.width, info.video.height) == ("h264", 640, 336)
    assert info.audio is not None and info.audio.codec == "aac"
    assert show["artifact"]["name"] == "slideshow.mp4" and show["artifact"]["content_type"] == "video/mp4"
    assert (show["frames"], show["width"], show["height"], show["fps"], show["has_audio"]) == (72, 640, 336, 24, True)
    assert show["duration_seconds"] == pytest.approx(info.duration_seconds)
    # And the MP4 transcodes to a trimmed WebM (VP9/Opus) and an MP3
    video = {"$artifact": f"{show_id}/slideshow.mp4"}
    webm_id, webm = await run_job(http, "transcode", {"input": video, "format": "webm", "width": 320, "end": 2})
    webm_info = await output(http, webm_id, webm, tmp_path)
    assert webm_info.video is not None and (webm_info.video.codec, webm_info.video.width) == ("vp9", 320)
    assert webm_info.audio is not None and webm_info.audio.codec == "opus"
    assert webm["duration_seconds"] == pytest.approx(2.0, abs=0.15) and webm["artifact"]["name"] == "slideshow.webm"
    mp3_id, mp3 = await run_job(http, "transcode", {"input": video, "format": "mp3"})
    mp3_info = await output(http, mp3_id, mp3, tmp_path)
    assert mp3_info.video is None and mp3_info.audio is not None and mp3_info.audio.codec == "mp3"
    assert mp3["size"] == mp3["artifact"]["size"] and mp3["width"] is None and mp3["has_audio"]
    # And the cards make a looping GIF, a frame each
    gif_id, gif = await run_job(http, "animated_gif", {"images": cards, "seconds_per_image": 0.5, "max_size": 400})
    fetched = await http.get(f"/v1/jobs/{gif_id}/artifacts/animation.gif")
    with Image.open(io.BytesIO(fetched.content)) as decoded:
        assert (decoded.format, decoded.size, getattr(decoded, "n_frames", 1), decoded.info["loop"]) == (
            "GIF",
            (400, 210),
            2,
            0,
        )
    assert (gif["frames"], gif["width"], gif["height"], gif["duration_seconds"]) == (2, 400, 210, 1.0)


def ffmpeg_of(job_id: str) -> list[int]:
    """Processes running ffmpeg on files of the job's directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ffmpeg" in cmdline and f"conveyor-{job_id}-".encode() in cmdline:
            found.append(int(pid))
    return found


async def test_a_cancelled_slideshow_stops_its_ffmpeg_and_stores_nothing(tenant: Tenant) -> None:
    _, http = tenant
    # Given a ten-minute slideshow being encoded
    images = [await card(http, "A long show", "forest")] * 10
    params = {"images": images, "seconds_per_image": 60, "width": 1280, "height": 720, "fps": 30}
    accepted = await submit(http, "slideshow", params)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]

    async def encoding() -> bool:
        job = (await http.get(f"/v1/jobs/{job_id}")).json()
        assert job["status"] in ("queued", "running"), job
        return job["progress"] > 0.1 and bool(ffmpeg_of(job_id))

    await eventually(encoding, timeout=60, message="the slideshow encoding")
    # When it is cancelled
    assert (await http.post(f"/v1/jobs/{job_id}/cancel")).status_code == 202
    # Then it ends cancelled, its ffmpeg is gone and it has no artifact
    job = await wait_for_status(http, job_id, "cancelled", "succeeded", "failed", timeout=30)
    assert job["status"] == "cancelled", job
    assert job["progress"] < 0.9 and (job["progress_message"] or "").startswith("frame ")

    async def stopped() -> bool:
        return not ffmpeg_of(job_id)

    await eventually(stopped, timeout=10, message="ffmpeg to stop")
    assert (await http.get(f"/v1/jobs/{job_id}/artifacts")).json()["items"] == []


async def test_bad_params_are_refused_at_submission_naming_the_field(tenant: Tenant) -> None:
    _, http = tenant
    image = await card(http, "An input", "paper")
    for operation, params, field in (
        ("slideshow", {"images": [image], "width": 641}, "params.width"),
        ("slideshow", {"images": [image], "fit_to_audio": True}, "params.fit_to_audio"),
        ("slideshow", {"images": [image] * 101}, "params.images"),
        ("animated_gif", {"images": [image], "max_size": 4096}, "params.max_size"),
        ("transcode", {"input": image, "format": "mp4", "start": 3, "end": 1}, "params.end"),
        ("transcode", {"input": image, "format": "avi"}, "params.format"),
    ):
        refused = await submit(http, operation, params)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field], (operation, params)


async def test_another_tenants_artifact_is_refused_as_an_input(tenant: Tenant, shared_system: System) -> None:
    _, http = tenant
    # Given a card of this tenant and one of another
    own = await card(http, "Mine", "midnight")
    async with shared_system.client(await shared_system.api_key(f"video-other-{secrets.token_hex(4)}")) as other:
        theirs = await card(other, "Theirs", "midnight")
    # Then a slideshow naming theirs is refused at the field naming it
    refused = await submit(http, "slideshow", {"images": [own, theirs]})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["params.images[1]"]
    refused = await submit(http, "transcode", {"input": theirs, "format": "gif"})
    assert [e["field"] for e in refused.json()["errors"]] == ["params.input"]


async def test_a_png_is_not_a_video_to_transcode(tenant: Tenant) -> None:
    _, http = tenant
    image = await card(http, "Not a video", "paper")
    accepted = await submit(http, "transcode", {"input": image, "format": "mp3"})
    assert accepted.status_code == 202, accepted.text
    job = await wait_for_status(http, accepted.json()["id"], "succeeded", "failed", timeout=60)
    assert job["status"] == "failed" and job["attempts"] == 1, job
    assert "audio stream" in job["error"]["message"], job


async def test_the_examples_of_the_engine_run(client: httpx.AsyncClient) -> None:
    engines = {e["name"]: e for e in (await client.get("/v1/engines")).json()["engines"]}
    for op in engines["video_pipeline"]["operations"]:
        result = await run(client, "video_pipeline", op["name"], await with_inputs(client, op["example"]))
        assert result["artifact"]["size"] > 0
