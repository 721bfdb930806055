"""The image_generation engine through the gateway: a card resized and thumbnailed by
reference, seeded art that repeats, and inputs that are another tenant's or no image refused."""

from __future__ import annotations

import hashlib
import io
import secrets
from typing import Any

import httpx
from PIL import Image

from infra import artifacts
from schemas.ids import uuid7
from tests.support.api import wait_for_status
from tests.support.system import System


async def finished(client: httpx.AsyncClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Submit an image_generation job and wait for it to end; the job."""
    body = {"engine": "image_generation", "operation": operation, "params": params}
    accepted = await client.post("/v1/jobs", json=body)
    assert accepted.status_code == 202, accepted.text
    return await wait_for_status(client, accepted.json()["id"], "succeeded", "failed", timeout=60)


async def succeeded(client: httpx.AsyncClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run an image_generation job to success; the job."""
    job = await finished(client, operation, params)
    assert job["status"] == "succeeded", job
    return job


async def downloaded(client: httpx.AsyncClient, job: dict[str, Any]) -> tuple[Image.Image, httpx.Response]:
    """The image a job stored, fetched over HTTP and decoded, and the response."""
    artifact = job["result"]["artifact"]
    response = await client.get(f"/v1/jobs/{job['id']}/artifacts/{artifact['name']}")
    assert response.status_code == 200 and response.headers["content-type"] == artifact["content_type"]
    assert hashlib.sha256(response.content).hexdigest() == artifact["sha256"]
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image, response


async def test_a_card_is_resized_and_thumbnailed_by_reference(client: httpx.AsyncClient) -> None:
    # Given a card of 800 × 420
    card = await succeeded(client, "render_card", {"title": "Resize me", "width": 800, "height": 420})
    ref = {"$artifact": f"{card['id']}/card.png"}
    # When it is resized to cover a square, as WebP
    square = await succeeded(
        client, "resize", {"image": ref, "width": 300, "height": 300, "fit": "cover", "format": "webp"}
    )
    image, _ = await downloaded(client, square)
    assert (image.format, image.size) == ("WEBP", (300, 300))
    result = square["result"]
    assert (result["width"], result["height"], result["format"]) == (300, 300, "webp")
    assert (result["source_width"], result["source_height"], result["source_format"]) == (800, 420, "png")
    # And letterboxed into a box in its own format, and to a width only
    boxed, _ = await downloaded(
        client, await succeeded(client, "resize", {"image": ref, "width": 500, "height": 500, "background": "#ff0000"})
    )
    assert (boxed.format, boxed.size) == ("PNG", (500, 500)) and boxed.convert("RGB").getpixel((250, 2)) == (255, 0, 0)
    narrow, _ = await downloaded(
        client, await succeeded(client, "resize", {"image": ref, "width": 400, "format": "jpeg"})
    )
    assert (narrow.format, narrow.size) == ("JPEG", (400, 210))
    # And thumbnailed
    small = await succeeded(client, "thumbnail", {"image": ref, "size": 128, "name": "small.png"})
    thumb, response = await downloaded(client, small)
    assert (thumb.format, thumb.size) == ("PNG", (128, 67)) and small["result"]["artifact"]["name"] == "small.png"
    assert response.headers["content-type"] == "image/png"


async def test_art_from_one_seed_is_the_same_image_and_decodes_at_its_size(client: httpx.AsyncClient) -> None:
    params = {"style": "flow_field", "width": 480, "height": 270, "seed": 1234, "palette": "forest"}
    first, again = await succeeded(client, "generate_art", params), await succeeded(client, "generate_art", params)
    image, _ = await downloaded(client, first)
    assert (image.format, image.size) == ("PNG", (480, 270))
    assert first["result"]["seed"] == 1234 and first["result"]["style"] == "flow_field"
    assert first["result"]["artifact"]["sha256"] == again["result"]["artifact"]["sha256"]
    unseeded = await succeeded(
        client, "generate_art", {"style": "bauhaus", "width": 200, "height": 200, "format": "jpeg"}
    )
    picture, _ = await downloaded(client, unseeded)
    assert (picture.format, picture.size) == ("JPEG", (200, 200)) and isinstance(unseeded["result"]["seed"], int)


async def test_bad_params_are_refused_at_submission_naming_the_field(client: httpx.AsyncClient) -> None:
    ref = {"$artifact": f"{uuid7()}/card.png"}
    for operation, params, field in (
        ("resize", {"image": ref}, "params.width"),
        ("resize", {"image": ref, "width": 10, "fit": "cover", "background": "#000000"}, "params.background"),
        ("resize", {"image": ref, "width": 0}, "params.width"),
        ("thumbnail", {"image": ref, "size": 5}, "params.size"),
        ("generate_art", {"style": "cubist"}, "params.style"),
        ("generate_art", {"colours": ["#000000"]}, "params.colours"),
        ("resize", {"image": ref, "width": 10}, "params.image"),  # no such artifact
    ):
        body = {"engine": "image_generation", "operation": operation, "params": params}
        refused = await client.post("/v1/jobs", json=body)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field], refused.text


async def test_another_tenants_image_is_refused_at_submission(client: httpx.AsyncClient, shared_system: System) -> None:
    # Given a card of this tenant
    card = await succeeded(client, "render_card", {"title": "Mine"})
    body = {
        "engine": "image_generation",
        "operation": "thumbnail",
        "params": {"image": {"$artifact": f"{card['id']}/card.png"}},
    }
    # Then another tenant cannot make a thumbnail of it
    async with shared_system.client(await shared_system.api_key(f"image-stranger-{secrets.token_hex(4)}")) as stranger:
        refused = await stranger.post("/v1/jobs", json=body)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["params.image"]
    assert (await client.post("/v1/jobs", json=body)).status_code == 202


async def test_an_artifact_that_is_not_an_image_fails_at_once(shared_system: System) -> None:
    # Given a text file stored as an artifact of a job of this tenant
    tenant = f"image-text-{secrets.token_hex(4)}"
    job_id = uuid7()
    pool = await shared_system.pool()
    try:
        await pool.execute(
            "INSERT INTO jobs (id, tenant, engine, operation, status, attempts, params, priority, max_retries, "
            "retry_backoff_seconds, retry_backoff_max_seconds, timeout_seconds) "
            "VALUES ($1, $2, 'image_generation', 'render_card', 'running', 1, '{}', 5, 3, 2, 300, 60)",
            job_id,
            tenant,
        )
        data = b"Not a picture, only words.\n"
        assert await artifacts.begin(pool, job_id, "notes.txt", "text/plain", 1)
        assert await artifacts.add_chunk(pool, job_id, "notes.txt", 0, data, 1)
        assert await artifacts.finish(pool, job_id, "notes.txt", len(data), hashlib.sha256(data).hexdigest(), 1)
        await pool.execute("UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = $1", job_id)
    finally:
        await pool.close()
    # When it is given to resize
    async with shared_system.client(await shared_system.api_key(tenant)) as client:
        job = await finished(client, "resize", {"image": {"$artifact": f"{job_id}/notes.txt"}, "width": 100})
    # Then the job fails on its first attempt, saying why
    assert job["status"] == "failed" and job["attempts"] == 1, job
    assert "is not an image" in job["error"]["message"] and "notes.txt" in job["error"]["message"]
