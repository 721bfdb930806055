"""Artifacts through the gateway: a rendered card is stored in chunks and served whole, in
ranges, with its ETag, to its tenant only."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import httpx
from msgspec.structs import replace
from PIL import Image

from infra import artifacts
from infra.db import create_pool
from infra.settings import load_settings
from schemas.artifacts import ByteRange
from schemas.ids import uuid7
from tests.support.api import wait_for_status
from tests.support.system import System


async def test_a_rendered_card_is_an_artifact_served_whole_in_ranges_and_by_etag(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # Given a card rendered by an image_generation job
    params = {"title": "Background jobs, done right", "subtitle": "Release notes", "width": 800, "height": 420}
    job = await client.post(
        "/v1/jobs", json={"engine": "image_generation", "operation": "render_card", "params": params}
    )
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    card = await run_to_result(client, job_id)
    # Then the job lists it, and serves the PNG it describes
    listed = (await client.get(f"/v1/jobs/{job_id}/artifacts")).json()["items"]
    assert [(a["name"], a["content_type"]) for a in listed] == [("card.png", "image/png")]
    assert listed[0] == {**card["artifact"], "created_at": listed[0]["created_at"]}
    whole = await client.get(f"/v1/jobs/{job_id}/artifacts/card.png")
    assert whole.status_code == 200 and whole.headers["content-type"] == "image/png"
    assert int(whole.headers["content-length"]) == len(whole.content) == listed[0]["size"]
    assert hashlib.sha256(whole.content).hexdigest() == listed[0]["sha256"]
    assert whole.headers["etag"] == f'"{listed[0]["sha256"]}"'
    image = Image.open(io.BytesIO(whole.content))
    assert (image.format, image.size) == ("PNG", (800, 420))
    assert card["title_lines"] and card["title_size"] > 20
    # And a range, an unchanged ETag and a range past the end answer as HTTP says
    part = await client.get(f"/v1/jobs/{job_id}/artifacts/card.png", headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == whole.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"
    tail = await client.get(f"/v1/jobs/{job_id}/artifacts/card.png", headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == whole.content[-16:]
    same = await client.get(f"/v1/jobs/{job_id}/artifacts/card.png", headers={"If-None-Match": whole.headers["etag"]})
    assert same.status_code == 304
    past = await client.get(f"/v1/jobs/{job_id}/artifacts/card.png", headers={"Range": f"bytes={len(whole.content)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole.content)}"
    # And another tenant sees neither the job's artifacts nor their bytes
    async with shared_system.client(await shared_system.api_key("artifact-stranger")) as stranger:
        assert (await stranger.get(f"/v1/jobs/{job_id}/artifacts")).status_code == 404
        assert (await stranger.get(f"/v1/jobs/{job_id}/artifacts/card.png")).status_code == 404
    missing = await client.get(f"/v1/jobs/{job_id}/artifacts/nope.png")
    assert missing.status_code == 404 and missing.json()["error"] == "artifact_not_found"


async def run_to_result(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    done = await wait_for_status(client, job_id, "succeeded", "failed", timeout=60)
    assert done["status"] == "succeeded", done
    return done["result"]


async def test_an_artifact_spans_chunks_and_only_the_running_attempt_writes_it(database_url: str) -> None:
    pool = await create_pool(replace(load_settings(), database_url=database_url), application_name="test")
    try:
        job_id = uuid7()
        await pool.execute(
            "INSERT INTO jobs (id, tenant, engine, operation, status, attempts, params, priority, max_retries, "
            "retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds) "
            "VALUES ($1, 't', 'image_generation', 'render_card', 'running', 1, '{}', 5, 3, 2, 300, 60)",
            job_id,
        )
        data = os.urandom(artifacts.CHUNK_BYTES * 2 + 12_345)
        # Given the running attempt writing three chunks
        assert await artifacts.begin(pool, job_id, "big.bin", "application/octet-stream", 1)
        size = artifacts.CHUNK_BYTES
        for seq in range(3):
            assert await artifacts.add_chunk(pool, job_id, "big.bin", seq, data[seq * size : (seq + 1) * size], 1)
        # Then it is invisible until finished
        assert await artifacts.get_artifact(pool, job_id, "t", "big.bin") is None
        digest = hashlib.sha256(data).hexdigest()
        assert await artifacts.finish(pool, job_id, "big.bin", len(data), digest, 1)
        row = await artifacts.get_artifact(pool, job_id, "t", "big.bin")
        assert row is not None and row["size"] == len(data)
        # And any span reads back, across chunk boundaries
        for span in (ByteRange(0, len(data) - 1), ByteRange(size - 10, size + 10), ByteRange(2 * size, 2 * size)):
            read = b"".join([c async for c in artifacts.read(pool, job_id, "big.bin", row["chunk_bytes"], span)])
            assert read == data[span.start : span.end + 1]
        # And neither another attempt nor another tenant's key reaches it
        assert not await artifacts.begin(pool, job_id, "big.bin", "application/octet-stream", 2)
        assert not await artifacts.add_chunk(pool, job_id, "big.bin", 3, b"late", 2)
        assert await artifacts.get_artifact(pool, job_id, "other", "big.bin") is None
        # And it goes with its job
        await pool.execute("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = $1", job_id)
        await pool.execute("DELETE FROM jobs WHERE id = $1", job_id)
        assert await pool.fetchval("SELECT count(*) FROM artifact_chunks WHERE job_id = $1", job_id) == 0
    finally:
        await pool.close()
