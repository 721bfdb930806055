"""The text_intelligence engine through the gateway: a service's first jobs do something useful."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import wait_for_status
from tests.unit.test_text_intelligence import SOLAR


async def run(client: httpx.AsyncClient, engine: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Submit a job and wait for it to succeed; its result."""
    body = {"engine": engine, "operation": operation, "params": params}
    accepted = await client.post("/v1/jobs", json=body)
    assert accepted.status_code == 202, accepted.text
    job = await wait_for_status(client, accepted.json()["id"], "succeeded", "failed", timeout=60)
    assert job["status"] == "succeeded", job
    result: dict[str, Any] = job["result"]
    return result


async def test_the_analysis_operations_run_on_a_worker_and_answer_as_a_reader_would(
    client: httpx.AsyncClient,
) -> None:
    summary = await run(client, "text_intelligence", "summarize", {"text": SOLAR, "max_sentences": 2})
    assert len(summary["sentences"]) == 2 and "cat" not in summary["summary"]
    mood = await run(client, "text_intelligence", "sentiment", {"text": "I love it. Setup was quick and painless!"})
    assert mood["label"] == "positive" and mood["compound"] > 0.5
    keywords = await run(client, "text_intelligence", "keywords", {"text": SOLAR, "top": 3})
    assert len(keywords["keywords"]) == 3 and keywords["keywords"][0]["relevance"] == 1.0
    ease = await run(
        client, "text_intelligence", "readability", {"text": "The cat sat on the mat. The dog ran to the cat."}
    )
    assert ease["difficulty"] == "very easy" and ease["words"] == 12
    language = await run(
        client, "text_intelligence", "detect_language", {"text": "Der Bericht wird morgen früh verschickt."}
    )
    assert language["language"] == "de"


async def test_bad_params_are_refused_at_submission_naming_the_field(client: httpx.AsyncClient) -> None:
    for params, field in (({"text": "x", "ratio": 2}, "params.ratio"), ({"text": ""}, "params.text")):
        body = {"engine": "text_intelligence", "operation": "summarize", "params": params}
        refused = await client.post("/v1/jobs", json=body)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
