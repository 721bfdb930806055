"""Workflow DAGs on real workers: data along edges, fan-out and fan-in, failure policies, cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import httpx

from tests.support.api import events, get_job, wait_for_status
from tests.support.system import System, eventually
from tests.support.workflows import echo, node_job, nodes_by_key, ref, submit_workflow, wait_for_workflow


async def test_diamond_passes_results_along_edges(client: httpx.AsyncClient) -> None:
    # Given A → {B, C} → D, where D reads both B's and C's results
    nodes = [
        echo("A", {"n": 2, "word": "two"}),
        echo("B", ref("A.result.value.n"), "A"),
        echo("C", [ref("A.result.value.word"), "c"], "A"),
        echo("D", {"from_b": ref("B.result.value"), "from_c": ref("C.result.value")}, "B", "C"),
    ]
    # When it is submitted
    workflow = await submit_workflow(client, nodes)
    assert workflow["status"] == "running" and workflow["on_failure"] == "cancel_dependents"
    assert [n["status"] for n in workflow["nodes"]] == ["queued", "waiting", "waiting", "waiting"]
    # Then it succeeds, and D received B's and C's results
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    assert done["finished_at"] is not None and done["nodes_finished"] == 4
    assert {n["status"] for n in done["nodes"]} == {"succeeded"}
    d = await node_job(client, done, "D")
    assert d["result"] == {"value": {"from_b": 2, "from_c": ["two", "c"]}}
    assert d["params"] == {"value": {"from_b": 2, "from_c": ["two", "c"]}}
    assert d["workflow_id"] == workflow["id"] and d["node_key"] == "D"
    assert nodes_by_key(done)["D"]["depends_on"] == ["B", "C"]


async def test_fan_out_of_fifty_items_joined_by_one_node(client: httpx.AsyncClient) -> None:
    # Given a list of 50, one job per element, and a join reading all their results
    nodes = [
        echo("list", list(range(50))),
        {**echo("square", ref("$item"), "list"), "for_each": "list.result.value"},
        echo("join", ref("square.result"), "square"),
    ]
    workflow = await submit_workflow(client, nodes)
    fan = nodes_by_key(workflow)["square"]
    assert fan["job_id"] is None and fan["status"] == "waiting" and fan["items_total"] is None
    # When it runs, Then the join gets the 50 results in order
    done = await wait_for_workflow(client, workflow["id"], "succeeded", timeout=60)
    fan = nodes_by_key(done)["square"]
    assert fan["status"] == "succeeded" and fan["items_total"] == 50 and fan["items_finished"] == 50
    join = await node_job(client, done, "join")
    assert join["result"] == {"value": [{"value": i} for i in range(50)]}
    # And the 50 item jobs are listed by workflow and node, each with its index
    query = {"workflow_id": workflow["id"], "node_key": "square", "limit": 100}
    items = (await client.get("/v1/jobs", params=query)).json()["items"]
    assert sorted(job["item_index"] for job in items) == list(range(50))
    assert {job["status"] for job in items} == {"succeeded"} and items[0]["node_key"] == "square"


async def test_fan_out_over_an_empty_list_succeeds_at_once(client: httpx.AsyncClient) -> None:
    nodes = [
        echo("list", []),
        {**echo("each", ref("$item"), "list"), "for_each": "list.result.value"},
        echo("join", ref("each.result"), "each"),
    ]
    done = await wait_for_workflow(client, (await submit_workflow(client, nodes))["id"], "succeeded")
    assert (await node_job(client, done, "join"))["result"] == {"value": []}


def failing_middle() -> list[dict]:
    """root → bad → after (not reading bad), root → bad → reader (reading bad), root → side."""
    return [
        echo("root", 1),
        {
            "key": "bad",
            "engine": "general",
            "operation": "flaky",
            "params": {"fail_times": 1, "permanent": True},
            "depends_on": ["root"],
        },
        echo("after", "runs?", "bad"),
        echo("reader", ref("bad.result.attempts"), "bad"),
        echo("side", ref("root.result.value"), "root"),
    ]


async def test_failed_node_cancels_its_dependents(client: httpx.AsyncClient) -> None:
    # Given a middle node that fails permanently, under the default policy
    workflow = await submit_workflow(client, failing_middle())
    # Then its descendants are cancelled, the independent branch succeeds, and the workflow fails
    done = await wait_for_workflow(client, workflow["id"], "failed")
    nodes = nodes_by_key(done)
    assert {k: n["status"] for k, n in nodes.items()} == {
        "root": "succeeded",
        "bad": "failed",
        "after": "cancelled",
        "reader": "cancelled",
        "side": "succeeded",
    }
    assert nodes["after"]["error"]["category"] == "cancelled"
    assert 'upstream node "bad" failed' in nodes["after"]["error"]["message"]
    after = await node_job(client, done, "after")
    assert after["attempts"] == 0 and after["started_at"] is None
    assert done["nodes_failed"] == 1 and done["nodes_cancelled"] == 2


async def test_continue_policy_runs_dependents_whose_inputs_allow(client: httpx.AsyncClient) -> None:
    # Given the same DAG with on_failure=continue
    workflow = await submit_workflow(client, failing_middle(), on_failure="continue")
    done = await wait_for_workflow(client, workflow["id"], "failed")
    nodes = nodes_by_key(done)
    # Then a dependent that does not read the failed node runs; one that reads it fails clearly
    assert nodes["after"]["status"] == "succeeded" and nodes["side"]["status"] == "succeeded"
    assert nodes["reader"]["status"] == "failed"
    assert nodes["reader"]["error"]["type"] == "InputError"
    assert 'node "bad" did not succeed' in nodes["reader"]["error"]["message"]


async def test_reference_to_a_missing_value_fails_the_node_clearly(client: httpx.AsyncClient) -> None:
    nodes = [echo("a", {"x": 1}), echo("b", ref("a.result.value.nope"), "a"), echo("c", 1, "b")]
    done = await wait_for_workflow(client, (await submit_workflow(client, nodes))["id"], "failed")
    b = nodes_by_key(done)["b"]
    assert b["status"] == "failed" and b["error"]["category"] == "permanent"
    assert '$ref "a.result.value.nope": no such value' in b["error"]["message"]
    assert nodes_by_key(done)["c"]["status"] == "cancelled"


async def test_resolved_params_are_checked_against_the_operation(client: httpx.AsyncClient) -> None:
    # Given a sleep node whose seconds come from a parent that returns a word
    nodes = [
        echo("a", "not a number"),
        {
            "key": "b",
            "engine": "general",
            "operation": "sleep",
            "params": {"seconds": ref("a.result.value")},
            "depends_on": ["a"],
            "max_retries": 5,
        },
    ]
    done = await wait_for_workflow(client, (await submit_workflow(client, nodes))["id"], "failed")
    b = await node_job(client, done, "b")
    # Then the node fails at once (no retries) saying which params do not fit
    assert b["status"] == "failed" and b["attempts"] == 1
    assert b["error"]["category"] == "permanent" and "params do not fit general.sleep" in b["error"]["message"]


async def test_node_delay_counts_from_when_it_is_ready(client: httpx.AsyncClient) -> None:
    nodes = [echo("a", 1), echo("b", 2, "a", delay_seconds=1.5)]
    workflow = await submit_workflow(client, nodes)
    b = await wait_for_status(client, nodes_by_key(workflow)["b"]["job_id"], "scheduled", "succeeded")
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    a = await node_job(client, done, "a")
    b = await node_job(client, done, "b")
    history = await events(client, b["id"])
    assert [e["to_status"] for e in history][:3] == ["waiting", "scheduled", "queued"]
    assert datetime.fromisoformat(b["started_at"]) >= datetime.fromisoformat(a["finished_at"]) + timedelta(seconds=1.4)


async def test_cancel_stops_running_nodes_and_starts_no_more(client: httpx.AsyncClient) -> None:
    # Given a workflow whose first node sleeps
    nodes = [
        {"key": "slow", "engine": "general", "operation": "sleep", "params": {"seconds": 30}},
        echo("next", 1, "slow"),
        {**echo("each", ref("$item"), "slow"), "for_each": "slow.result.list"},
    ]
    workflow = await submit_workflow(client, nodes)
    await wait_for_status(client, nodes_by_key(workflow)["slow"]["job_id"], "running")
    # When it is cancelled
    response = await client.post(f"/v1/workflows/{workflow['id']}/cancel")
    assert response.status_code in (200, 202), response.text
    # Then the running node stops within 2 seconds, nothing else starts, and it ends cancelled
    done = await wait_for_workflow(client, workflow["id"], "cancelled", timeout=5)
    nodes = nodes_by_key(done)
    assert {k: n["status"] for k, n in nodes.items()} == {"slow": "cancelled", "next": "cancelled", "each": "cancelled"}
    nxt = await node_job(client, done, "next")
    assert nxt["started_at"] is None and nxt["attempts"] == 0
    # And cancelling again answers 409
    again = await client.post(f"/v1/workflows/{workflow['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"] == "workflow_finished"


async def test_jobs_of_a_workflow_are_not_retried_alone(client: httpx.AsyncClient) -> None:
    nodes = [{"key": "bad", "engine": "general", "operation": "flaky", "params": {"fail_times": 1, "permanent": True}}]
    done = await wait_for_workflow(client, (await submit_workflow(client, nodes))["id"], "failed")
    job = await node_job(client, done, "bad")
    response = await client.post(f"/v1/jobs/{job['id']}/retry")
    assert response.status_code == 409 and response.json()["error"] == "job_in_workflow"


async def test_workflows_are_listed_newest_first_and_filtered(client: httpx.AsyncClient) -> None:
    first = await submit_workflow(client, [echo("a", 1)], name="alpha", tags=["t1"])
    second = await submit_workflow(client, [echo("a", 2)], name="beta")
    await wait_for_workflow(client, first["id"], "succeeded")
    await wait_for_workflow(client, second["id"], "succeeded")
    page = (await client.get("/v1/workflows", params={"limit": 1})).json()
    assert [w["id"] for w in page["items"]] == [second["id"]] and page["next_cursor"]
    rest = (await client.get("/v1/workflows", params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [w["id"] for w in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    named = (await client.get("/v1/workflows", params={"name": "alpha"})).json()["items"]
    tagged = (await client.get("/v1/workflows", params={"tag": "t1", "status": "succeeded"})).json()["items"]
    assert [w["id"] for w in named] == [w["id"] for w in tagged] == [first["id"]]
    assert "nodes" not in named[0] and named[0]["nodes_total"] == 1


async def test_another_tenants_workflow_is_not_found(client: httpx.AsyncClient, shared_system: System) -> None:
    workflow = await submit_workflow(client, [echo("a", 1)])
    async with shared_system.client(await shared_system.api_key("someone-else")) as other:
        assert (await other.get(f"/v1/workflows/{workflow['id']}")).status_code == 404
        assert (await other.post(f"/v1/workflows/{workflow['id']}/cancel")).status_code == 404
    job = await get_job(client, workflow["nodes"][0]["job_id"])
    assert job["workflow_id"] == workflow["id"]


async def test_job_cancelled_alone_cancels_its_dependents(client: httpx.AsyncClient) -> None:
    nodes = [
        {"key": "slow", "engine": "general", "operation": "sleep", "params": {"seconds": 30}},
        echo("b", 1, "slow"),
    ]
    workflow = await submit_workflow(client, nodes)
    slow = nodes_by_key(workflow)["slow"]["job_id"]
    await wait_for_status(client, slow, "running")
    assert (await client.post(f"/v1/jobs/{slow}/cancel")).status_code == 202
    done = await wait_for_workflow(client, workflow["id"], "cancelled", timeout=5)
    assert nodes_by_key(done)["b"]["status"] == "cancelled"

    async def finished() -> bool:
        return (await get_job(client, slow))["status"] == "cancelled"

    await eventually(finished, timeout=5)


async def test_invalid_workflow_is_refused_naming_the_node_with_no_rows_written(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    cases = [
        (
            [echo("a", 1, "c"), echo("b", 1, "a"), echo("c", 1, "b")],
            "nodes[0].depends_on",
            "forms a cycle: a → c → b → a",
        ),
        ([echo("a", 1), echo("a", 2)], "nodes[1].key", "repeats the key"),
        ([echo("a", 1), echo("b", 1, "nope")], "nodes[1].depends_on", '"nope" is not the key of any node'),
        ([echo("a", 1), {**echo("b", 1, "a"), "operation": "nope"}], "nodes[1].operation", "unknown operation"),
        (
            [echo("a", 1), {"key": "b", "engine": "general", "operation": "sleep", "params": {"seconds": "x"}}],
            "nodes[1].params.seconds",
            "Expected `float`",
        ),
        ([echo("a", 1), echo("b", ref("c.result"), "a")], "nodes[1].params", '"c" is not in depends_on'),
        ([echo("a", 1), echo("b", ref("$item"), "a")], "nodes[1].params", "$item exists only in a for_each node"),
        ([echo("a", 1), {**echo("b", 1, "a"), "status": "succeeded"}], "nodes[1].status", "unknown field"),
        ([echo(f"n{i}", i) for i in range(1001)], "nodes", "length <= 1000"),
    ]
    for nodes, field, message in cases:
        response = await client.post("/v1/workflows", json={"name": "bad", "nodes": nodes})
        assert response.status_code == 422, (field, response.text)
        errors = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert field in errors and message in errors[field], (field, errors)
    # Then nothing of any of them was written
    assert (await client.get("/v1/workflows")).json()["items"] == []
    assert (await client.get("/v1/jobs")).json()["items"] == []
    pool = await shared_system.pool()
    try:
        written = await pool.fetchval("SELECT count(*) FROM workflows WHERE name = 'bad'")
    finally:
        await pool.close()
    assert written == 0


async def test_join_is_queued_once_when_parents_finish_together_on_two_workers(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given two worker processes and many joins whose parents finish at the same moment
    system = await make_system()
    system.start_scheduler()
    system.start_worker("worker-1", queues=["general"], threads=8)
    system.start_worker("worker-2", queues=["general"], threads=8)
    system.start_gateway()
    system.wait_for_consumers("general", count=2)
    async with system.client(await system.api_key("race")) as http:
        parents = [echo(f"p{i}", i) for i in range(8)]
        join = echo("join", [ref(f"p{i}.result.value") for i in range(8)], *[f"p{i}" for i in range(8)])
        submitted = [await submit_workflow(http, [*parents, join]) for _ in range(15)]
        # Then every join ran exactly once, with every parent's value
        for workflow in submitted:
            done = await wait_for_workflow(http, workflow["id"], "succeeded", timeout=60)
            job = await node_job(http, done, "join")
            assert job["result"] == {"value": list(range(8))} and job["attempts"] == 1
            history = await events(http, job["id"])
            assert sum(1 for e in history if e["to_status"] == "queued") == 1
    pool = await system.pool()
    try:
        # And no message was published twice for a join
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.close()


async def test_failure_runs_down_a_chain_of_a_thousand_nodes(client: httpx.AsyncClient) -> None:
    # Given a chain of 1,000 nodes, each reading its parent's result, whose first node fails
    bad = {"key": "n0", "engine": "general", "operation": "flaky", "params": {"fail_times": 1, "permanent": True}}
    chain = [bad, *[echo(f"n{i}", ref(f"n{i - 1}.result.value"), f"n{i - 1}") for i in range(1, 1000)]]
    # Then under `continue` every node fails in turn (its input is missing), without running
    cont = await submit_workflow(client, chain, on_failure="continue")
    done = await wait_for_workflow(client, cont["id"], "failed")
    assert done["nodes_failed"] == 1000 and done["nodes_cancelled"] == 0
    # And under cancel_dependents the other 999 are cancelled
    cancel = await submit_workflow(client, chain)
    done = await wait_for_workflow(client, cancel["id"], "failed")
    assert done["nodes_failed"] == 1 and done["nodes_cancelled"] == 999
    last = await node_job(client, done, "n999")
    assert last["status"] == "cancelled" and last["attempts"] == 0


async def test_idempotency_key_gives_the_same_workflow(client: httpx.AsyncClient) -> None:
    nodes = [echo("a", 1), echo("b", ref("a.result.value"), "a")]
    first = await client.post("/v1/workflows", json={"name": "once", "nodes": nodes}, headers={"Idempotency-Key": "k1"})
    again = await client.post("/v1/workflows", json={"name": "once", "nodes": nodes, "idempotency_key": "k1"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["idempotency_key"] == "k1"
    listed = (await client.get("/v1/workflows")).json()["items"]
    assert [w["id"] for w in listed] == [first.json()["id"]]
    differ = await client.post(
        "/v1/workflows",
        json={"name": "once", "nodes": nodes, "idempotency_key": "k2"},
        headers={"Idempotency-Key": "k3"},
    )
    assert differ.status_code == 422 and differ.json()["errors"][0]["field"] == "idempotency_key"


async def test_fan_out_over_too_long_a_list_fails_the_node_clearly(client: httpx.AsyncClient) -> None:
    nodes = [
        echo("list", list(range(10_001))),
        {**echo("each", ref("$item"), "list"), "for_each": "list.result.value"},
        echo("after", 1, "each"),
    ]
    done = await wait_for_workflow(client, (await submit_workflow(client, nodes))["id"], "failed")
    each = nodes_by_key(done)["each"]
    assert each["status"] == "failed" and each["error"]["type"] == "InputError"
    assert "10001 items, more than the 10000" in each["error"]["message"] and each["items_total"] is None
    assert nodes_by_key(done)["after"]["status"] == "cancelled"


async def test_a_node_takes_a_parents_artifact_by_reference(client: httpx.AsyncClient) -> None:
    # Given a card, its thumbnail made from it, and a node asking for an artifact the card lacks
    card = {"key": "card", "engine": "image_generation", "operation": "render_card", "params": {"title": "Hello"}}
    thumb = {
        "key": "thumb",
        "engine": "image_generation",
        "operation": "thumbnail",
        "params": {"image": ref("card.artifacts.card.png"), "size": 64},
        "depends_on": ["card"],
    }
    missing = {**thumb, "key": "missing", "params": {"image": ref("card.artifacts.card.webp")}}
    workflow = await submit_workflow(client, [card, thumb, missing], on_failure="continue")
    done = await wait_for_workflow(client, workflow["id"], "failed", timeout=60)
    # Then the thumbnail read the card's PNG, named by the card's job
    card_job, thumb_job = await node_job(client, done, "card"), await node_job(client, done, "thumb")
    assert thumb_job["status"] == "succeeded"
    assert thumb_job["params"]["image"] == {"$artifact": f"{card_job['id']}/card.png"}
    assert thumb_job["result"]["source_width"] == 1200 and max(thumb_job["result"]["width"], 64) == 64
    # And the node naming an artifact the card did not make fails saying what it made
    failed = nodes_by_key(done)["missing"]
    assert failed["status"] == "failed" and failed["error"]["category"] == "permanent"
    assert 'made no artifact "card.webp" (it made: card.png)' in failed["error"]["message"]


async def test_an_artifact_reference_to_a_node_not_depended_on_is_refused(client: httpx.AsyncClient) -> None:
    nodes = [echo("a", 1), echo("b", ref("a.artifacts.card.png"))]
    refused = await client.post("/v1/workflows", json={"name": "test", "nodes": nodes})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "nodes[1].params"
    assert '"a" is not in depends_on' in refused.json()["errors"][0]["message"]


async def test_a_workflow_naming_an_artifact_of_no_job_of_its_tenant_is_refused(client: httpx.AsyncClient) -> None:
    image = {"$artifact": "01234567-89ab-7def-8123-456789abcdef/card.png"}
    nodes = [echo("a", 1), {**echo("b", 1, "a"), "engine": "image_generation", "operation": "thumbnail",
                            "params": {"image": image}}]  # fmt: skip
    refused = await client.post("/v1/workflows", json={"name": "test", "nodes": nodes})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["nodes[1].params.image"]
