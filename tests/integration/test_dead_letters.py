"""Dead letters: failed jobs are listed, replayed and purged through the API, and the engine
queue's `.XQ` in RabbitMQ keeps in step with the list."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from schemas.keys import Scope
from tests.support.api import events, get_job, submit, wait_for_status
from tests.support.own_system import own_system
from tests.support.system import System, eventually, wait_until
from tests.support.workflows import submit_workflow, wait_for_workflow

#: Fails permanently on its first attempt, succeeds on the next: a dead letter worth replaying.
FAILS_ONCE = {"fail_times": 1, "permanent": True}
MEMBER = (Scope.JOBS_READ, Scope.JOBS_WRITE)


@pytest.fixture(scope="module")
async def system(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """A Conveyor of this module's own, so its `.XQ` holds only this module's messages."""
    async with own_system(settings, template_url, tmp_path_factory.mktemp("dead_letters")) as running:
        yield running


async def member(system: System, tenant: str | None = None) -> httpx.AsyncClient:
    """A client with a non-admin key of a tenant (a fresh one if not given)."""
    return system.client(await system.api_key(tenant or f"t-{secrets.token_hex(3)}", MEMBER))


async def dead_letter(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """A job that failed permanently (its message dead-lettered); the failed job."""
    job = await submit(http, "flaky", FAILS_ONCE, **fields)
    return await wait_for_status(http, job["id"], "failed")


async def listed(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """One page of GET /v1/dead-letters."""
    response = await http.get("/v1/dead-letters", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_dead_letters_listing_filters_pages_and_keeps_tenants_apart(system: System) -> None:
    # Given three dead letters and a succeeded job of tenant A, and one dead letter of tenant B
    async with await member(system) as a, await member(system) as b:
        mine = [await dead_letter(a, tags=["x"]) for _ in range(3)]
        await wait_for_status(a, (await submit(a, "echo", {"value": 1}))["id"], "succeeded")
        theirs = await dead_letter(b)
        ids = [job["id"] for job in reversed(mine)]  # newest failure first

        # When A lists its dead letters
        items = await listed(a)

        # Then it sees its failed jobs only, newest failure first, with what an operator needs
        assert [item["id"] for item in items] == ids
        first = items[0]
        assert first["queue"] == "general" and first["operation"] == "flaky" and first["attempts"] == 1
        assert first["error"]["category"] == "permanent" and first["tags"] == ["x"] and first["replayable"]
        assert first["failed_at"] >= items[1]["failed_at"] and first["created_at"] and first["tenant"]
        # And their messages are all in general.XQ
        wait_until(lambda: _all_in_xq(system, [*ids, theirs["id"]]), timeout=10, message="messages in .XQ")

        # And the filters narrow it down
        assert len(await listed(a, queue="general", operation="flaky", category="permanent", tag="x")) == 3
        assert await listed(a, operation="echo") == [] and await listed(a, category="transient") == []
        assert await listed(a, queue="image_generation") == [] and await listed(a, tag="y") == []
        assert await listed(a, since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []
        # And cursor paging walks the list in order without repeats
        page = await a.get("/v1/dead-letters", params={"limit": 2})
        assert [i["id"] for i in page.json()["items"]] == ids[:2] and page.json()["next_cursor"]
        rest = await a.get("/v1/dead-letters", params={"limit": 2, "cursor": page.json()["next_cursor"]})
        assert [i["id"] for i in rest.json()["items"]] == ids[2:] and rest.json()["next_cursor"] is None

        # And another tenant's dead letters are invisible, and asking for them is forbidden
        assert [item["id"] for item in await listed(b)] == [theirs["id"]]
        tenant_b = theirs_tenant(await listed(b))
        forbidden = await a.get("/v1/dead-letters", params={"tenant": first["tenant"] + "-other"})
        assert forbidden.status_code == 403 and forbidden.json()["errors"][0]["field"] == "tenant"
        assert len(await listed(a, tenant=first["tenant"])) == 3

    # And an admin key sees every tenant's, or one tenant's when it asks
    async with system.client(await system.api_key("ops", [Scope.ADMIN])) as admin:
        everyone = {item["id"] for item in await listed(admin, limit=500)}
        assert {*ids, theirs["id"]} <= everyone
        assert [item["id"] for item in await listed(admin, tenant=tenant_b)] == [theirs["id"]]


def theirs_tenant(items: list[dict[str, Any]]) -> str:
    """The tenant of the dead letters listed."""
    return str(items[0]["tenant"])


def _all_in_xq(system: System, job_ids: list[str]) -> bool:
    return set(job_ids) <= set(system.dead_letters())


async def test_dead_letters_replay_by_ids_runs_them_again_and_clears_their_messages(system: System) -> None:
    # Given three dead letters of tenant A and one of tenant B, their messages in general.XQ
    async with await member(system) as a, await member(system) as b:
        one, two, three = [await dead_letter(a) for _ in range(3)]
        theirs = await dead_letter(b)
        wait_until(
            lambda: _all_in_xq(system, [one["id"], two["id"], three["id"], theirs["id"]]), timeout=10, message=".XQ"
        )

        # When A replays two of its own, B's and an unknown id
        body = {"ids": [one["id"], two["id"], theirs["id"], str(uuid.uuid4())]}
        response = await a.post("/v1/dead-letters/replay", json=body)

        # Then the two run again, attempts continuing, and succeed; the others count as not found
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["replayed"], answer["not_found"], answer["not_replayable"]) == (2, 2, 0)
        assert answer["more"] is False and answer["paced_seconds"] == 0
        [sweep] = answer["dead_letter_queues"]
        assert sweep["queue"] == system.settings.queue_prefix + "general.XQ" and sweep["complete"]
        for job in (one, two):
            done = await wait_for_status(a, job["id"], "succeeded")
            assert done["attempts"] == 2 and done["error"] is None
        # And their messages are gone from general.XQ; the others' are still there
        remaining = set(system.dead_letters())
        assert one["id"] not in remaining and two["id"] not in remaining
        assert {three["id"], theirs["id"]} <= remaining
        # And the list holds the one not replayed; B's dead letter is untouched
        assert [item["id"] for item in await listed(a)] == [three["id"]]
        assert (await get_job(b, theirs["id"]))["status"] == "failed"
        assert [item["id"] for item in await listed(b)] == [theirs["id"]]


async def test_dead_letters_replay_counts_workflow_nodes_not_replayable(system: System) -> None:
    # Given a workflow whose only node failed, and a plain dead letter
    async with await member(system) as a:
        node = {"key": "n", "engine": "general", "operation": "flaky", "params": FAILS_ONCE, "depends_on": []}
        workflow = await submit_workflow(a, [node])
        await wait_for_workflow(a, workflow["id"], "failed")
        plain = await dead_letter(a)
        [listed_node] = [item for item in await listed(a) if item["workflow_id"] == workflow["id"]]
        assert listed_node["replayable"] is False and listed_node["node_key"] == "n"

        # When every dead letter of the tenant is replayed by filter
        response = await a.post("/v1/dead-letters/replay", json={"filter": {"queue": "general"}})

        # Then the plain job runs again; the node is counted and left failed
        assert response.status_code == 200, response.text
        assert (response.json()["replayed"], response.json()["not_replayable"]) == (1, 1)
        await wait_for_status(a, plain["id"], "succeeded")
        assert [item["id"] for item in await listed(a)] == [listed_node["id"]]


async def test_dead_letters_paced_replay_schedules_them_second_by_second(system: System) -> None:
    # Given three dead letters
    async with await member(system) as a:
        jobs = [await dead_letter(a, tags=["paced"]) for _ in range(3)]

        # When they are replayed at one a second
        response = await a.post("/v1/dead-letters/replay", json={"filter": {"tag": "paced"}, "max_per_second": 1})

        # Then all three are replayed over two seconds: one queued at once, the others scheduled
        # one and two seconds later (the scheduler queues them then), and all succeed
        assert response.status_code == 200, response.text
        assert (response.json()["replayed"], response.json()["paced_seconds"]) == (3, 2)
        run_ats = []
        for job in jobs:
            await wait_for_status(a, job["id"], "succeeded")
            [replay] = [e for e in await events(a, job["id"]) if e["from_status"] == "failed"]
            run_ats.append(replay["data"].get("run_at") if replay["to_status"] == "scheduled" else None)
        times = sorted(datetime.fromisoformat(t) for t in run_ats if t is not None)
        assert run_ats.count(None) == 1 and len(times) == 2 and times[1] - times[0] == timedelta(seconds=1)


async def test_dead_letters_purge_by_filter_hides_them_and_clears_their_messages(system: System) -> None:
    # Given two dead letters of A tagged "purge", one tagged "keep", and one of B tagged "purge"
    async with await member(system) as a, await member(system) as b:
        gone = [await dead_letter(a, tags=["purge"]) for _ in range(2)]
        kept = await dead_letter(a, tags=["keep"])
        theirs = await dead_letter(b, tags=["purge"])
        all_ids = [*(job["id"] for job in gone), kept["id"], theirs["id"]]
        wait_until(lambda: _all_in_xq(system, all_ids), timeout=10, message="messages in .XQ")

        # When A purges by filter
        response = await a.post("/v1/dead-letters/purge", json={"filter": {"tag": "purge"}})

        # Then its two are off the list but still failed, and their messages left general.XQ
        assert response.status_code == 200, response.text
        assert (response.json()["purged"], response.json()["not_found"], response.json()["more"]) == (2, 0, False)
        assert await listed(a, tag="purge") == []
        assert [item["id"] for item in await listed(a)] == [kept["id"]]
        for job in gone:
            assert (await get_job(a, job["id"]))["status"] == "failed"
        remaining = set(system.dead_letters())
        assert not {job["id"] for job in gone} & remaining and {kept["id"], theirs["id"]} <= remaining
        # And RabbitMQ's management API agrees (once its statistics refresh)
        await eventually(lambda: _console_agrees(system), timeout=30, interval=0.5, message="the console's count")
        # And B's dead letter is untouched; A may not purge B's
        assert [item["id"] for item in await listed(b)] == [theirs["id"]]
        tenant_b = theirs_tenant(await listed(b))
        refused = await a.post("/v1/dead-letters/purge", json={"filter": {"tag": "purge", "tenant": tenant_b}})
        assert refused.status_code == 403, refused.text

    # And an admin key purges another tenant's by filter
    async with system.client(await system.api_key("ops", [Scope.ADMIN])) as admin:
        response = await admin.post("/v1/dead-letters/purge", json={"filter": {"tag": "purge"}, "tenant": tenant_b})
        assert response.status_code == 200 and response.json()["purged"] == 1, response.text
        assert await listed(admin, tenant=tenant_b) == []
        assert theirs["id"] not in set(system.dead_letters())


async def _console_agrees(system: System) -> bool:
    name = system.settings.queue_prefix + "general.XQ"
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=5) as console:
        response = await console.get(f"{system.settings.rabbitmq_management_url}/api/queues/%2F/{name}")
    return response.status_code == 200 and response.json().get("messages") == len(system.dead_letters())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ids"),
        ({"ids": [], "filter": {}}, "ids"),
        ({"ids": [str(uuid.uuid4())], "filter": {}}, "filter"),
        ({"ids": []}, "ids"),
        ({"ids": ["not-a-uuid"]}, "ids[0]"),
        ({"ids": [str(uuid.uuid4())] * 10_001}, "ids"),
        ({"filter": {"category": "nope"}}, "filter.category"),
        ({"filter": {"since": "yesterday"}}, "filter.since"),
        ({"filter": {"colour": "red"}}, "filter.colour"),
        ({"filter": {}, "max_per_second": 0}, "max_per_second"),
        ({"filter": {}, "max_per_second": 1e-9}, "max_per_second"),
        ({"filter": {"queue": "gen\u0000eral"}}, "filter.queue"),
        ({"filter": {}, "status": "failed"}, "status"),
    ],
)
async def test_dead_letters_bad_bodies_answer_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    # Given a malformed replay or purge body, When posted, Then 422 names the field
    for action in ("replay", "purge"):
        if action == "purge" and "max_per_second" in body:
            continue
        response = await client.post(f"/v1/dead-letters/{action}", json=body)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.text


async def test_dead_letters_bad_queries_answer_4xx_naming_the_parameter(client: httpx.AsyncClient) -> None:
    # Given malformed listing parameters, When listing, Then a 4xx names each one
    for params, field in (({"cursor": "nope"}, "cursor"), ({"category": "nope"}, "category"), ({"limit": 0}, "limit")):
        response = await client.get("/v1/dead-letters", params=params)
        assert 400 <= response.status_code < 500, response.text
        assert field in response.text
