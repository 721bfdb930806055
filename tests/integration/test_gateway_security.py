"""API keys, scopes, tenancy, probes and the OpenAPI document."""

from __future__ import annotations

import httpx

from schemas.keys import Scope
from tests.support.api import submit
from tests.support.system import System, eventually

ECHO = {"engine": "general", "operation": "echo", "params": {"value": 1}}


async def test_missing_or_invalid_key_is_401(shared_system: System) -> None:
    async with shared_system.client(None) as anonymous:
        response = await anonymous.get("/v1/jobs")
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
        wrong = await anonymous.get("/v1/jobs", headers={"Authorization": "Bearer cvk_not-a-key"})
        assert wrong.status_code == 401
        assert (await anonymous.get("/v1/engines")).status_code == 401


async def test_missing_scope_is_403(shared_system: System) -> None:
    reader = await shared_system.api_key("scoped", [Scope.JOBS_READ])
    async with shared_system.client(reader) as http:
        assert (await http.get("/v1/jobs")).status_code == 200
        response = await http.post("/v1/jobs", json=ECHO)
        assert response.status_code == 403 and "jobs:write" in response.json()["detail"]
    writer = await shared_system.api_key("scoped", [Scope.JOBS_WRITE])
    async with shared_system.client(writer) as http:
        assert (await http.post("/v1/jobs", json=ECHO)).status_code == 202
        assert (await http.get("/v1/jobs")).status_code == 403


async def test_another_tenants_job_is_404(shared_system: System, client: httpx.AsyncClient) -> None:
    job = await submit(client, "echo", {"value": 1})
    other = await shared_system.api_key("someone-else")
    async with shared_system.client(other) as http:
        for response in (
            await http.get(f"/v1/jobs/{job['id']}"),
            await http.post(f"/v1/jobs/{job['id']}/cancel"),
            await http.post(f"/v1/jobs/{job['id']}/retry"),
            await http.get(f"/v1/jobs/{job['id']}/events"),
        ):
            assert response.status_code == 404
        assert (await http.get("/v1/jobs")).json()["items"] == []


async def test_revoked_key_is_refused(shared_system: System) -> None:
    # Given a working key
    key = await shared_system.api_key("revoking")
    async with shared_system.client(key) as http:
        assert (await http.get("/v1/jobs")).status_code == 200
        # When it is revoked with the CLI
        key_id = (await shared_system.cli("keys", "list", "--tenant", "revoking")).splitlines()[1].split()[0]
        assert "revoked" in await shared_system.cli("keys", "revoke", key_id)

        # Then the gateway refuses it once its key cache expires
        async def refused() -> bool:
            return (await http.get("/v1/jobs")).status_code == 401

        await eventually(refused, timeout=shared_system.settings.key_cache_seconds + 5, interval=0.2, message="401")


async def test_keys_create_prints_a_working_key_last(shared_system: System) -> None:
    created = await shared_system.cli(
        "keys", "create", "--tenant", "cli-made", "--scopes", "jobs:read,jobs:write,admin"
    )
    key = created.strip().splitlines()[-1]
    assert key.startswith("cvk_")
    async with shared_system.client(key) as http:
        assert (await http.post("/v1/jobs", json=ECHO)).status_code == 202


async def test_probes_and_schema_need_no_key(shared_system: System) -> None:
    async with shared_system.client(None) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "checks": {}}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok", "rabbitmq": "ok"}
        schema = await http.get("/schema/openapi.json")
        assert schema.status_code == 200 and "/v1/jobs" in schema.json()["paths"]


async def test_engines_lists_all_eight_with_queues_and_schemas(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    engines = (await client.get("/v1/engines")).json()["engines"]
    assert len(engines) == 8
    by_name = {engine["name"]: engine for engine in engines}
    assert by_name["general"]["queue"] == shared_system.settings.queue_prefix + "general"
    ops = {op["name"]: op for op in by_name["general"]["operations"]}
    assert {"echo", "sleep", "flaky"} <= set(ops)
    sleep_params = ops["sleep"]["params_schema"]
    assert sleep_params["$defs"]["SleepParams"]["properties"]["seconds"]["type"] == "number"
    assert ops["flaky"]["result_schema"]["$defs"]["FlakyResult"]["required"] == ["attempts"]
    # each with a description and example params that submit as they are
    assert ops["sleep"]["description"] and ops["sleep"]["example"] == {"seconds": 5}
    echo = ops["echo"]["example"]
    submitted = await client.post("/v1/jobs", json={"engine": "general", "operation": "echo", "params": echo})
    assert submitted.status_code == 202, submitted.text
