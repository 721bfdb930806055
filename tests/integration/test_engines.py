"""The engines through the gateway: what /v1/engines lists runs, and the planner's operations."""

from __future__ import annotations

import json
from typing import Any

import httpx

from schemas.artifacts import EXAMPLE_JOB_ID, artifact_inputs
from tests.integration.test_text_intelligence import run
from tests.support.api import wait_for_status

#: What makes an input artifact of an example, by the name the example gives it (examples
#: write `{"$artifact": "<EXAMPLE_JOB_ID>/<name>"}`; a real client names a job of its own).
MAKERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "card.png": ("image_generation", "render_card", {"title": "An input card"}),
    "tones.wav": ("audio_generation", "synthesize_tones", {"notes": [{"note": "A4", "seconds": 1.0}]}),
    "speech.wav": ("audio_generation", "speak", {"text": "An input to the example."}),
    "slideshow.mp4": ("video_pipeline", "slideshow", {}),
}


async def with_inputs(client: httpx.AsyncClient, example: dict[str, Any]) -> dict[str, Any]:
    """The example with each input artifact it names made first, by a job of this tenant."""
    text = json.dumps(example)
    for _, ref in artifact_inputs(example):
        assert str(ref.job_id) == EXAMPLE_JOB_ID and ref.name in MAKERS, ref
        engine, operation, params = MAKERS[ref.name]
        if engine == "video_pipeline":  # a video of a card
            params = {"images": [{"$artifact": f"{EXAMPLE_JOB_ID}/card.png"}], "seconds_per_image": 1}
        body = {"engine": engine, "operation": operation, "params": await with_inputs(client, params)}
        accepted = await client.post("/v1/jobs", json=body)
        assert accepted.status_code == 202, accepted.text
        job = await wait_for_status(client, accepted.json()["id"], "succeeded", "failed", timeout=60)
        assert job["status"] == "succeeded", job
        text = text.replace(ref.ref, f"{job['id']}/{job['result']['artifact']['name']}")
    result: dict[str, Any] = json.loads(text)
    return result


async def test_every_operation_but_the_diagnostics_is_listed_with_an_example_that_runs(
    client: httpx.AsyncClient,
) -> None:
    engines = {e["name"]: e for e in (await client.get("/v1/engines")).json()["engines"]}
    assert {"summarize", "sentiment", "keywords", "readability", "detect_language"} <= {
        op["name"] for op in engines["text_intelligence"]["operations"]
    }
    assert {"optimize_post", "hashtags", "posting_plan"} <= {
        op["name"] for op in engines["social_media_planner"]["operations"]
    }
    for name, engine in engines.items():
        for op in engine["operations"]:
            assert op["description"] and op["params_schema"] and op["example"], (name, op["name"])
            if name != "general":  # sleep and flaky take their time, as asked
                await run(client, name, op["name"], await with_inputs(client, op["example"]))


async def test_a_post_for_x_fits_and_a_plan_comes_in_the_audiences_time_zone(client: httpx.AsyncClient) -> None:
    text = " ".join(["Retries, dead letters and live progress for every job you send."] * 12)
    posts = await run(client, "social_media_planner", "optimize_post", {"text": text, "platforms": ["x", "linkedin"]})
    by = {post["platform"]: post for post in posts["posts"]}
    assert by["x"]["shortened"] and by["x"]["length"] <= 280
    assert not by["linkedin"]["shortened"] and len(by["linkedin"]["hashtags"]) == 3
    history = [{"posted_at": f"2026-11-{day:02d}T08:00:00Z", "engagement": 100} for day in (3, 10, 17, 24)] * 3
    plan = await run(client, "social_media_planner", "posting_plan",
                     {"platform": "linkedin", "history": history, "timezone": "Europe/Berlin", "slots": 1})  # fmt: skip
    assert plan["basis"] == "history"
    assert plan["slots"][0]["weekday"] == "tuesday" and plan["slots"][0]["hour"] == 9  # 08:00 UTC in winter


async def test_an_unknown_time_zone_is_refused_at_submission(client: httpx.AsyncClient) -> None:
    body = {
        "engine": "social_media_planner",
        "operation": "posting_plan",
        "params": {"platform": "x", "timezone": "Mars/Olympus"},
    }
    refused = await client.post("/v1/jobs", json=body)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["params.timezone"]
