"""Job templates: versioned bodies that jobs, batches and schedules start from."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.support.api import get_job, wait_for_status
from tests.support.system import System
from tests.support.workflows import wait_for_workflow

TEXT = "Conveyor queues jobs. Workers run them. Results come back. Failures are retried. Nothing is lost."


async def save(client: httpx.AsyncClient, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = await client.post("/v1/templates", json=body)
    assert response.status_code == status, response.text
    saved: dict[str, Any] = response.json()
    return saved


def summary_template(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "engine": "text_intelligence",
        "operation": "summarize",
        "params": {"max_sentences": 2},
        "priority": "high",
        "tags": ["blog"],
        "retry_on": ["transient"],
        **fields,
    }


async def test_a_template_is_versioned_and_every_version_stays_readable(client: httpx.AsyncClient) -> None:
    name = f"summary-{secrets.token_hex(3)}"
    # Given a template saved, saved again unchanged, then changed
    first = await save(client, summary_template(name, description="two sentences"))
    assert (first["version"], first["latest_version"]) == (1, 1) and first["params"] == {"max_sentences": 2}
    same = await save(client, summary_template(name, description="two sentences"), status=200)
    assert same["version"] == 1
    second = await save(client, summary_template(name, description="three", params={"max_sentences": 3}))
    assert (second["version"], second["latest_version"]) == (2, 2)
    # Then the name reads the latest, name@1 the first, and the versions list both
    latest = (await client.get(f"/v1/templates/{name}")).json()
    assert latest["version"] == 2 and latest["params"] == {"max_sentences": 3} and latest["description"] == "three"
    old = (await client.get(f"/v1/templates/{name}@1")).json()
    assert (old["version"], old["latest_version"], old["params"]) == (1, 2, {"max_sentences": 2})
    versions = (await client.get(f"/v1/templates/{name}/versions")).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert (await client.get(f"/v1/templates/{name}@3")).status_code == 404
    listed = (await client.get("/v1/templates", params={"limit": 500})).json()["items"]
    assert [t["version"] for t in listed if t["name"] == name] == [2]


async def test_a_job_made_from_a_template_merges_its_params_and_names_the_version(client: httpx.AsyncClient) -> None:
    name = f"summary-{secrets.token_hex(3)}"
    await save(client, summary_template(name))
    await save(client, summary_template(name, params={"max_sentences": 1}))
    # When jobs are submitted from the latest and from version 1, giving the text and a tag
    response = await client.post("/v1/jobs", json={"template": name, "params": {"text": TEXT}, "tags": ["launch"]})
    assert response.status_code == 202, response.text
    latest = response.json()
    pinned = (await client.post("/v1/jobs", json={"template": f"{name}@1", "params": {"text": TEXT}})).json()
    # Then each holds the template's fields, its params merged with the ones given
    assert latest["engine"] == "text_intelligence" and latest["operation"] == "summarize"
    assert (latest["params"]["max_sentences"], latest["params"]["text"]) == (1, TEXT) and latest["priority"] == 7
    assert latest["tags"] == ["blog", "launch"] and latest["retry_on"] == ["transient"]
    assert latest["template"] == f"{name}@2" and pinned["template"] == f"{name}@1"
    assert (pinned["params"]["max_sentences"], pinned["params"]["text"]) == (2, TEXT)
    # And they run as the merged job
    done = await wait_for_status(client, pinned["id"], "succeeded", timeout=30)
    assert len(done["result"]["sentences"]) == 2
    # And a field given replaces the template's
    low = (await client.post("/v1/jobs", json={"template": name, "params": {"text": TEXT}, "priority": "low"})).json()
    assert low["priority"] == 1


async def test_the_merged_job_is_checked_whole_and_errors_name_the_field(client: httpx.AsyncClient) -> None:
    name = f"summary-{secrets.token_hex(3)}"
    await save(client, summary_template(name))
    cases = [
        ({"template": name}, "params.text"),  # neither template nor submission gives the text
        ({"template": name, "params": {"text": TEXT, "max_sentences": "two"}}, "params.max_sentences"),
        ({"template": "no-such-template", "params": {"text": TEXT}}, "template"),
        ({"template": f"{name}@9", "params": {"text": TEXT}}, "template"),
        ({"template": "bad name", "params": {}}, "template"),
        ({"params": {"value": 1}}, "engine"),
    ]
    for body, field in cases:
        response = await client.post("/v1/jobs", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field, (body, response.text)
    # In a batch, the item is named
    jobs = [{"template": name, "params": {"text": TEXT}}, {"template": "nope"}]
    response = await client.post("/v1/jobs/batch", json={"jobs": jobs})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "jobs[1].template"
    accepted = await client.post("/v1/jobs/batch", json={"jobs": jobs[:1] * 2})
    assert accepted.status_code == 202 and {j["template"] for j in accepted.json()["jobs"]} == {f"{name}@1"}


async def test_a_template_is_checked_as_far_as_it_goes(client: httpx.AsyncClient) -> None:
    base = summary_template(f"bad-{secrets.token_hex(3)}")
    cases = [
        ({"operation": "summarise"}, "operation"),
        ({"engine": ""}, "engine"),
        ({"params": {"max_sentences": "two"}}, "params.max_sentences"),
        ({"params": {"sentences": 2}}, "params.sentences"),
        ({"retry_on": ["ProviderRateLimited"]}, "retry_on[0]"),
        ({"run_at": "2030-01-01T00:00:00Z"}, "run_at"),
        ({"depends_on": []}, "depends_on"),
        ({"name": "has space"}, "name"),
    ]
    for fields, field in cases:
        response = await client.post("/v1/templates", json={**base, **fields})
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["errors"][0]["field"] == field, (fields, response.text)


async def test_a_deleted_template_is_gone_and_its_jobs_keep_its_name(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    name = f"echo-{secrets.token_hex(3)}"
    await save(client, {"name": name, "engine": "general", "operation": "echo", "params": {"value": 1}})
    job = (await client.post("/v1/jobs", json={"template": name})).json()
    # Another tenant neither sees nor uses it
    async with shared_system.client(await shared_system.api_key("template-stranger")) as other:
        assert (await other.get(f"/v1/templates/{name}")).status_code == 404
        refused = await other.post("/v1/jobs", json={"template": name})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "template"
        assert (await other.delete(f"/v1/templates/{name}")).status_code == 404
    # When it is deleted
    assert (await client.delete(f"/v1/templates/{name}")).status_code == 204
    # Then it is gone, and the job made from it still names it
    assert (await client.get(f"/v1/templates/{name}")).status_code == 404
    assert (await client.get(f"/v1/templates/{name}/versions")).status_code == 404
    assert (await client.post("/v1/jobs", json={"template": name})).status_code == 422
    assert (await get_job(client, job["id"]))["template"] == f"{name}@1"


async def test_a_schedule_makes_its_job_from_a_template(client: httpx.AsyncClient) -> None:
    name = f"echo-{secrets.token_hex(3)}"
    await save(client, {"name": name, "engine": "general", "operation": "echo", "params": {"value": {"a": 1}}})
    body = {"name": "from a template", "cron": "0 9 * * *", "job": {"template": name, "params": {"value": {"b": 2}}}}
    response = await client.post("/v1/schedules", json=body)
    assert response.status_code == 201, response.text
    job = response.json()["job"]
    assert (
        job["engine"] == "general" and job["params"] == {"value": {"a": 1, "b": 2}} and job["template"] == f"{name}@1"
    )
    refused = await client.post("/v1/schedules", json={**body, "job": {"template": "nope"}})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "job.template"


async def test_workflow_nodes_start_from_templates(client: httpx.AsyncClient) -> None:
    name = f"echo-{secrets.token_hex(3)}"
    await save(client, {"name": name, "engine": "general", "operation": "echo", "params": {"value": 0}, "tags": ["t"]})
    nodes = [
        {"key": "a", "template": name},
        {"key": "b", "template": f"{name}@1", "depends_on": ["a"], "params": {"value": {"$ref": "a.result.value"}}},
    ]
    response = await client.post("/v1/workflows", json={"name": "templated", "nodes": nodes})
    assert response.status_code == 202, response.text
    workflow = response.json()
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    b = await get_job(client, next(n["job_id"] for n in done["nodes"] if n["key"] == "b"))
    assert b["result"] == {"value": 0} and b["template"] == f"{name}@1" and b["tags"] == ["t"]
    refused = await client.post("/v1/workflows", json={"name": "x", "nodes": [{"key": "a", "template": "nope"}]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "nodes[0].template"
