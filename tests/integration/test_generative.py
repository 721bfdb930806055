"""Generative operations through the gateway without a provider: the local composer writes, and
says so; bad params are refused at submission; /v1/engines describes every operation."""

from __future__ import annotations

import httpx

from tests.integration.test_text_intelligence import run
from tests.unit.test_text_intelligence import SOLAR

GENERATIVE = {
    "text_intelligence": {"generate", "transform"},
    "creative_assistant": {"brainstorm", "outline", "refine"},
}


async def test_the_local_composer_writes_each_operation_and_says_so(client: httpx.AsyncClient) -> None:
    # Given a worker with no provider configured (the shared system)
    # When each generative operation runs on fixed inputs
    post = await run(client, "text_intelligence", "generate",
                     {"kind": "blog_post", "topic": "home solar", "source": SOLAR, "length": "short"})  # fmt: skip
    rewrite = await run(client, "text_intelligence", "transform",
                        {"text": "We're gonna ship it!! It's awesome.", "tone": "professional"})  # fmt: skip
    ideas = await run(client, "creative_assistant", "brainstorm", {"topic": "home solar", "n": 3})
    outline = await run(client, "creative_assistant", "outline", {"topic": "home solar", "sections": 4})
    refined = await run(client, "creative_assistant", "refine",
                        {"suggestions": ideas["ideas"], "feedback": "shorter, for renters", "keep": 1})  # fmt: skip
    # Then each says the local composer wrote it, with usage and no cost
    for result in (post, rewrite, ideas, outline, refined):
        assert (result["provider"], result["model"], result["cost"]) == ("local", "local-composer", 0.0)
        assert result["usage"]["estimated"] is True and result["usage"]["completion_tokens"] > 0
    # And the content is what the composer makes of the inputs
    assert post["title"] == "Home solar: what to know" and "Batteries store solar electricity" in post["text"]
    assert rewrite["text"] == "We are going to ship it. It is excellent."
    assert [i["angle"] for i in ideas["ideas"]] == ["how-to", "listicle", "myth-busting"]
    assert [s["heading"] for s in outline["sections"]][::3] == ["Introduction", "Conclusion"]
    assert len(refined["suggestions"]) == 1 and refined["suggestions"][0]["text"].endswith("Written for renters.")


async def test_bad_generative_params_are_refused_at_submission(client: httpx.AsyncClient) -> None:
    for engine, operation, params, field in (
        ("text_intelligence", "transform", {"text": "Hello."}, "params"),
        ("text_intelligence", "generate", {"kind": "poem", "topic": "x"}, "params.kind"),
        ("creative_assistant", "brainstorm", {"topic": "x", "n": 0}, "params.n"),
        ("creative_assistant", "refine", {"suggestions": [], "feedback": "shorter"}, "params.suggestions"),
    ):
        body = {"engine": engine, "operation": operation, "params": params}
        refused = await client.post("/v1/jobs", json=body)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_engines_describe_the_generative_operations(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/v1/engines")).json()["engines"]
    by_engine = {e["name"]: {op["name"]: op for op in e["operations"]} for e in listed}
    for engine, names in GENERATIVE.items():
        for name in names:
            op = by_engine[engine][name]
            assert op["example"] and op["description"] and op["default_timeout_seconds"]
            assert {"provider", "model", "usage", "cost"} <= set(op["result_schema"]["$defs"][
                op["result_schema"]["$ref"].rsplit("/", 1)[-1]]["properties"])  # fmt: skip
