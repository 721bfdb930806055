"""Workflows that grow and recover, on real workers: nodes added while a workflow runs, and a
finished workflow run again from its failed and cancelled nodes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx

from tests.support.api import events, wait_for_status
from tests.support.system import System, eventually
from tests.support.workflows import (
    add_nodes,
    echo,
    flaky,
    node_job,
    nodes_by_key,
    ref,
    retry_workflow,
    sleep,
    submit_workflow,
    wait_for_workflow,
    workflow_event_types,
)


def at(text: str) -> datetime:
    """An RFC 3339 time of the API."""
    return datetime.fromisoformat(text)


def started(history: list[dict[str, Any]]) -> int:
    """How many times a job started, from its events."""
    return sum(1 for event in history if event["type"] == "job.started")


async def test_retry_from_a_failed_node_reuses_what_succeeded(client: httpx.AsyncClient) -> None:
    # Given root → bad → reader → last, and root → side, where bad fails at its first attempt
    nodes = [
        echo("root", {"n": 7}),
        flaky("bad", 1, "root"),
        echo("reader", ref("bad.result.attempts"), "bad"),
        echo("last", ref("reader.result.value"), "reader"),
        echo("side", ref("root.result.value.n"), "root"),
    ]
    workflow = await submit_workflow(client, nodes)
    failed = await wait_for_workflow(client, workflow["id"], "failed")
    assert {k: n["status"] for k, n in nodes_by_key(failed).items()} == {
        "root": "succeeded",
        "bad": "failed",
        "reader": "cancelled",
        "last": "cancelled",
        "side": "succeeded",
    }
    kept = {key: await node_job(client, failed, key) for key in ("root", "side")}
    kept_history = {key: await events(client, job["id"]) for key, job in kept.items()}
    # When it is retried
    response = await retry_workflow(client, workflow["id"])
    assert response.status_code == 202, response.text
    retried = response.json()
    assert retried["status"] == "running" and retried["finished_at"] is None
    assert retried["retries"] == 1 and retried["retried_at"] is not None
    assert retried["nodes_finished"] == 2 and retried["nodes_failed"] == 0 and retried["nodes_cancelled"] == 0
    [entry] = retried["retry_history"]
    assert entry["number"] == 1 and entry["requested"] is None and entry["nodes"] == ["bad", "reader", "last"]
    # Then the failed node runs again with a fresh budget, its dependents follow, and it succeeds
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    assert at(done["finished_at"]) > at(failed["finished_at"]) and done["nodes_finished"] == 5
    bad = await node_job(client, done, "bad")
    assert bad["attempts"] == 2 and bad["result"] == {"attempts": 2} and bad["error"] is None
    assert [e["to_status"] for e in await events(client, bad["id"])][-5:] == [
        "failed",
        "waiting",
        "queued",
        "running",
        "succeeded",
    ]
    reader = await node_job(client, done, "reader")
    assert reader["params"] == {"value": 2} and reader["attempts"] == 1
    assert (await node_job(client, done, "last"))["result"] == {"value": 2}
    # And the nodes that had succeeded did not run again: same jobs, attempts and starts
    for key, job in kept.items():
        now = await node_job(client, done, key)
        assert now["id"] == job["id"] and now["attempts"] == job["attempts"] == 1
        assert now["result"] == job["result"] and now["finished_at"] == job["finished_at"]
        assert started(await events(client, job["id"])) == started(kept_history[key]) == 1
    # And the workflow announced its new start, then its end
    assert await workflow_event_types(client, workflow["id"]) == [
        "workflow.started",
        "workflow.failed",
        "workflow.started",
        "workflow.succeeded",
    ]


async def test_retry_of_chosen_nodes_runs_them_and_what_they_stopped(client: httpx.AsyncClient) -> None:
    # Given two failing branches, each stopping the node below it
    nodes = [
        echo("root", 1),
        flaky("b1", 1, "root"),
        echo("c1", ref("b1.result.attempts"), "b1"),
        flaky("b2", 1, "root"),
        echo("c2", ref("b2.result.attempts"), "b2"),
    ]
    workflow = await submit_workflow(client, nodes)
    await wait_for_workflow(client, workflow["id"], "failed")
    # When only b1 is retried
    response = await retry_workflow(client, workflow["id"], ["b1"])
    assert response.status_code == 202, response.text
    assert response.json()["retry_history"][0]["nodes"] == ["b1", "c1"]
    # Then b1 and the node it had stopped run, the other branch stays as it was, and it fails again
    once = await wait_for_workflow(client, workflow["id"], "failed")
    assert {k: n["status"] for k, n in nodes_by_key(once).items()} == {
        "root": "succeeded",
        "b1": "succeeded",
        "c1": "succeeded",
        "b2": "failed",
        "c2": "cancelled",
    }
    assert (await node_job(client, once, "b2"))["attempts"] == 1
    assert once["nodes_failed"] == 1 and once["nodes_cancelled"] == 1
    # And a node stopped by b2 cannot run alone while b2 stays failed
    refused = await retry_workflow(client, workflow["id"], ["c2"])
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "nodes[0]" and '"c2" depends on "b2", which did not succeed' in error["message"]
    # When the rest is retried, Then everything has succeeded, and both retries are recorded
    assert (await retry_workflow(client, workflow["id"], ["b2", "c2"])).status_code == 202
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    assert (await node_job(client, done, "c2"))["result"] == {"value": 2}
    assert done["retries"] == 2
    assert [(r["requested"], r["nodes"]) for r in done["retry_history"]] == [
        (["b1"], ["b1", "c1"]),
        (["b2", "c2"], ["b2", "c2"]),
    ]


async def test_retry_under_continue_reruns_what_failed_for_want_of_an_input(client: httpx.AsyncClient) -> None:
    # Given under `continue` a failing node, a dependent that ran anyway and one that read it
    nodes = [
        echo("root", 1),
        flaky("bad", 1, "root"),
        echo("after", "ran", "bad"),
        echo("reader", ref("bad.result.attempts"), "bad"),
    ]
    workflow = await submit_workflow(client, nodes, on_failure="continue")
    failed = await wait_for_workflow(client, workflow["id"], "failed")
    after = await node_job(client, failed, "after")
    assert nodes_by_key(failed)["reader"]["error"]["type"] == "InputError"
    # When it is retried
    response = await retry_workflow(client, workflow["id"])
    assert response.status_code == 202 and response.json()["retry_history"][0]["nodes"] == ["bad", "reader"]
    # Then the reader waits for the failed node's new run and reads its result; `after` keeps its own
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    assert (await node_job(client, done, "reader"))["result"] == {"value": 2}
    kept = await node_job(client, done, "after")
    assert kept["attempts"] == 1 and kept["finished_at"] == after["finished_at"]


async def test_retry_of_a_fan_out_runs_only_its_items_that_did_not_succeed(client: httpx.AsyncClient) -> None:
    # Given one item job per element, item i failing its first i attempts, and a join
    nodes = [
        echo("list", [0, 1, 2]),
        {**flaky("each", ref("$item"), "list"), "for_each": "list.result.value"},
        echo("join", ref("each.result"), "each"),
    ]
    workflow = await submit_workflow(client, nodes)
    await wait_for_workflow(client, workflow["id"], "failed")
    items = await item_jobs(client, workflow["id"], "each")
    assert [(j["status"], j["attempts"]) for j in items] == [("succeeded", 1), ("failed", 1), ("failed", 1)]
    # When it is retried twice (item 2 fails once more in between)
    assert (await retry_workflow(client, workflow["id"])).status_code == 202
    again = await wait_for_workflow(client, workflow["id"], "failed")
    each = nodes_by_key(again)["each"]
    assert each["items_total"] == 3 and each["items_finished"] == 3 and each["status"] == "failed"
    assert (await retry_workflow(client, workflow["id"])).status_code == 202
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    # Then the same three item jobs ran: the first once, the others until they succeeded
    rerun = await item_jobs(client, workflow["id"], "each")
    assert [j["id"] for j in rerun] == [j["id"] for j in items]
    assert [(j["status"], j["attempts"]) for j in rerun] == [("succeeded", 1), ("succeeded", 2), ("succeeded", 3)]
    assert rerun[0]["finished_at"] == items[0]["finished_at"]
    join = await node_job(client, done, "join")
    assert join["result"] == {"value": [{"attempts": 1}, {"attempts": 2}, {"attempts": 3}]}


async def item_jobs(client: httpx.AsyncClient, workflow_id: str, key: str) -> list[dict[str, Any]]:
    """A for_each node's item jobs, by index."""
    query = {"workflow_id": workflow_id, "node_key": key, "limit": 100}
    items: list[dict[str, Any]] = (await client.get("/v1/jobs", params=query)).json()["items"]
    return sorted(items, key=lambda job: job["item_index"])


async def test_a_cancelled_workflow_runs_again_with_its_cancelled_nodes(client: httpx.AsyncClient) -> None:
    # Given a workflow cancelled while its first node slept, before its second had its input
    nodes = [sleep("slow", 1), echo("next", ref("slow.result.slept"), "slow")]
    workflow = await submit_workflow(client, nodes)
    await wait_for_status(client, nodes_by_key(workflow)["slow"]["job_id"], "running")
    assert (await client.post(f"/v1/workflows/{workflow['id']}/cancel")).status_code in (200, 202)
    cancelled = await wait_for_workflow(client, workflow["id"], "cancelled", timeout=5)
    nxt = await node_job(client, cancelled, "next")
    assert nxt["status"] == "cancelled" and nxt["params"] == {"value": ref("slow.result.slept")}
    # When it is retried, Then it is no longer being cancelled, and both nodes run
    response = await retry_workflow(client, workflow["id"])
    assert response.status_code == 202 and response.json()["cancel_requested_at"] is None
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    nxt = await node_job(client, done, "next")
    assert nxt["result"] == {"value": 1.0} and nxt["attempts"] == 1
    assert [e["to_status"] for e in await events(client, nxt["id"])] == [
        "waiting",
        "cancelled",
        "waiting",
        "queued",
        "running",
        "succeeded",
    ]


async def test_retry_is_refused_unless_the_workflow_failed_or_was_cancelled(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    # Given a running workflow, a succeeded one and a failed one
    running = await submit_workflow(client, [sleep("slow", 5)])
    succeeded = await submit_workflow(client, [echo("a", 1)])
    failed = await submit_workflow(client, [echo("ok", 1), flaky("bad", 1, "ok")])
    await wait_for_workflow(client, succeeded["id"], "succeeded")
    await wait_for_workflow(client, failed["id"], "failed")
    # Then retrying the first two answers 409
    for workflow, code in ((running, "workflow_running"), (succeeded, "workflow_succeeded")):
        response = await retry_workflow(client, workflow["id"])
        assert response.status_code == 409 and response.json()["error"] == code, response.text
    # And naming a node that does not exist or did not fail answers 422 naming it, changing nothing
    response = await retry_workflow(client, failed["id"], ["nope", "ok", "bad", "bad"])
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert errors == {
        "nodes[0]": '"nope" is not a node of the workflow: only failed or cancelled nodes run again',
        "nodes[1]": '"ok" is succeeded: only failed or cancelled nodes run again',
        "nodes[3]": "repeats nodes[2]",
    }
    for body, field in (({"nodes": []}, "nodes"), ({"keys": ["bad"]}, "keys")):
        bad_body = await client.post(f"/v1/workflows/{failed['id']}/retry", json=body)
        assert bad_body.status_code == 422 and bad_body.json()["errors"][0]["field"] == field, bad_body.text
    unchanged = (await client.get(f"/v1/workflows/{failed['id']}")).json()
    assert unchanged["status"] == "failed" and unchanged["retries"] == 0 and unchanged["retry_history"] == []
    # And another tenant's workflow, or none, is not found
    async with shared_system.client(await shared_system.api_key("someone-else")) as other:
        assert (await retry_workflow(other, failed["id"])).status_code == 404
        assert (await add_nodes(other, running["id"], [echo("x", 1)])).status_code == 404
    assert (await retry_workflow(client, "01234567-89ab-7def-8123-456789abcdef")).status_code == 404


async def test_two_retries_at_once_run_the_workflow_again_once(client: httpx.AsyncClient) -> None:
    # Given a failed workflow
    workflow = await submit_workflow(client, [flaky("bad", 1)])
    await wait_for_workflow(client, workflow["id"], "failed")
    # When two retries arrive together, Then one is accepted and the other finds it running
    first, second = await asyncio.gather(retry_workflow(client, workflow["id"]), retry_workflow(client, workflow["id"]))
    assert sorted([first.status_code, second.status_code]) == [202, 409]
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    bad = await node_job(client, done, "bad")
    assert bad["attempts"] == 2 and done["retries"] == 1
    assert sum(1 for e in await events(client, bad["id"]) if e["to_status"] == "queued") == 2


async def test_a_retry_and_a_cancel_at_once_end_one_way_or_the_other(client: httpx.AsyncClient) -> None:
    # Given a failed workflow whose retried part sleeps
    workflow = await submit_workflow(client, [flaky("bad", 1), sleep("slow", 2, "bad")])
    await wait_for_workflow(client, workflow["id"], "failed")
    # When it is retried and cancelled at the same moment
    retried, cancelled = await asyncio.gather(
        retry_workflow(client, workflow["id"]), client.post(f"/v1/workflows/{workflow['id']}/cancel")
    )
    # Then the retry runs it again, and the cancel stops that run if it came second, or finds it failed
    assert retried.status_code == 202, retried.text
    assert cancelled.status_code in (200, 202, 409), cancelled.text
    outcome = "cancelled" if cancelled.status_code != 409 else "succeeded"
    done = await wait_for_workflow(client, workflow["id"], outcome, timeout=10)
    assert done["retries"] == 1 and done["nodes_finished"] == done["nodes_total"] == 2
    for key in ("bad", "slow"):
        assert (await node_job(client, done, key))["status"] in ("succeeded", "cancelled")


async def test_nodes_added_while_it_runs_join_it_and_it_ends_after_them(client: httpx.AsyncClient) -> None:
    # Given a workflow whose only node sleeps
    workflow = await submit_workflow(client, [sleep("slow", 1.5)])
    # When a node reading it is added, with a node below the new one
    response = await add_nodes(
        client, workflow["id"], [echo("top", ref("y.result.value"), "y"), echo("y", ref("slow.result.slept"), "slow")]
    )
    # Then it is accepted at once, waiting for its parents, and counted
    assert response.status_code == 202, response.text
    grown = response.json()
    assert grown["status"] == "running" and grown["nodes_total"] == 3
    added = nodes_by_key(grown)
    assert [n["key"] for n in grown["nodes"]] == ["slow", "top", "y"]
    assert added["top"]["depends_on"] == ["y"] and added["y"]["status"] == "waiting"
    assert added["slow"]["added_at"] is None and added["top"]["added_at"] is not None
    # And the workflow ends only after the added nodes, which ran in order with their inputs
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    slow, y, top = [await node_job(client, done, key) for key in ("slow", "y", "top")]
    assert y["result"] == {"value": 1.5} and top["result"] == {"value": 1.5}
    assert at(slow["finished_at"]) <= at(y["started_at"]) and at(y["finished_at"]) <= at(top["started_at"])
    assert at(done["finished_at"]) >= at(top["finished_at"]) and done["nodes_finished"] == 3


async def test_a_node_added_below_nodes_that_succeeded_runs_at_once(client: httpx.AsyncClient) -> None:
    # Given a running workflow with a node that has succeeded
    workflow = await submit_workflow(client, [echo("a", {"x": 3}), sleep("slow", 3)])
    await wait_for_status(client, nodes_by_key(workflow)["a"]["job_id"], "succeeded")
    # When a node reading its result is added, Then it runs at once, while the sleeper sleeps
    response = await add_nodes(client, workflow["id"], [echo("b", ref("a.result.value.x"), "a")])
    assert response.status_code == 202, response.text
    b = await wait_for_status(client, nodes_by_key(response.json())["b"]["job_id"], "succeeded")
    assert b["result"] == {"value": 3}
    slow = await node_job(client, response.json(), "slow")
    assert slow["status"] == "running"
    done = await wait_for_workflow(client, workflow["id"], "succeeded")
    assert at(done["finished_at"]) >= at(b["finished_at"])


async def test_a_node_added_below_a_failed_node_follows_the_policy(client: httpx.AsyncClient) -> None:
    # Given, under each policy, a workflow kept running by a sleeper while one of its nodes failed
    for policy in ("cancel_dependents", "continue"):
        workflow = await submit_workflow(client, [flaky("bad", 1), sleep("slow", 2)], on_failure=policy)
        await wait_for_status(client, nodes_by_key(workflow)["bad"]["job_id"], "failed")
        # When nodes are added below it: one ignoring its result, one reading it, one below those
        new = [echo("after", 1, "bad"), echo("reader", ref("bad.result"), "bad"), echo("last", 1, "after", "reader")]
        response = await add_nodes(client, workflow["id"], new)
        assert response.status_code == 202, response.text
        done = await wait_for_workflow(client, workflow["id"], "failed")
        statuses = {k: n["status"] for k, n in nodes_by_key(done).items()}
        if policy == "cancel_dependents":
            # Then they are cancelled at once, naming the failed node
            assert {k: nodes_by_key(response.json())[k]["status"] for k in ("after", "reader", "last")} == {
                "after": "cancelled",
                "reader": "cancelled",
                "last": "cancelled",
            }
            assert 'upstream node "bad" failed' in nodes_by_key(done)["after"]["error"]["message"]
            assert done["nodes_cancelled"] == 3 and (await node_job(client, done, "after"))["attempts"] == 0
        else:
            # Or they run as dependents of a failed node do: the reader fails for want of its input
            assert statuses == {
                "bad": "failed",
                "slow": "succeeded",
                "after": "succeeded",
                "reader": "failed",
                "last": "succeeded",
            }
            assert nodes_by_key(done)["reader"]["error"]["type"] == "InputError"
        assert done["nodes_total"] == 5 and done["nodes_finished"] == 5


async def test_adding_to_a_finished_or_cancelling_workflow_is_refused(client: httpx.AsyncClient) -> None:
    # Given a finished workflow, Then adding to it answers 409
    finished = await submit_workflow(client, [echo("a", 1)])
    await wait_for_workflow(client, finished["id"], "succeeded")
    response = await add_nodes(client, finished["id"], [echo("b", 1, "a")])
    assert response.status_code == 409 and response.json()["error"] == "workflow_finished", response.text
    # Given a workflow being cancelled while a node that ignores cancellation runs on
    cancelling = await submit_workflow(
        client, [{"key": "block", "engine": "general", "operation": "block", "params": {"seconds": 2}}]
    )
    await wait_for_status(client, nodes_by_key(cancelling)["block"]["job_id"], "running")
    assert (await client.post(f"/v1/workflows/{cancelling['id']}/cancel")).status_code == 202
    # Then adding to it answers 409 too, and neither grew
    response = await add_nodes(client, cancelling["id"], [echo("b", 1)])
    assert response.status_code == 409 and response.json()["error"] == "workflow_cancelling", response.text
    done = await wait_for_workflow(client, cancelling["id"], "cancelled", timeout=10)
    assert done["nodes_total"] == 1 and (await client.get(f"/v1/workflows/{finished['id']}")).json()["nodes_total"] == 1


async def test_invalid_additions_name_the_field_and_write_nothing(client: httpx.AsyncClient) -> None:
    # Given a running workflow, When additions that do not fit it are sent, Then each answers 422 naming the field
    workflow = await submit_workflow(client, [sleep("slow", 3), echo("done", 1)])
    cases = [
        ([echo("x", 1, "slow", "y"), echo("y", 1, "x")], "nodes[0].depends_on", "forms a cycle: x → y → x"),
        ([echo("x", 1, "nope")], "nodes[0].depends_on", '"nope" is not the key of any node'),
        ([echo("x", 1), echo("slow", 1, "x")], "nodes[1].key", '"slow" is the key of a node of the workflow'),
        ([echo("x", 1), echo("x", 2)], "nodes[1].key", '"x" repeats the key of nodes[0]'),
        ([sleep("x", "long", "slow")], "nodes[0].params.seconds", "Expected `float`"),
        ([sleep("x", ref("slow.result.slept"), "slow"), echo("y", ref("done.result"), "x")], "nodes[1].params",
         '"done" is not in depends_on'),
        ([{**echo("x", 1, "slow"), "operation": "nope"}], "nodes[0].operation", "unknown operation"),
        ([{**echo("x", 1, "slow"), "status": "succeeded"}], "nodes[0].status", "unknown field"),
        ([], "nodes", "length >= 1"),
    ]  # fmt: skip
    for nodes, field, message in cases:
        response = await add_nodes(client, workflow["id"], nodes)
        assert response.status_code == 422, (field, response.text)
        errors = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert field in errors and message in errors[field], (field, errors)
    # Then nothing of any of them was written
    unchanged = (await client.get(f"/v1/workflows/{workflow['id']}")).json()
    assert unchanged["nodes_total"] == 2 and [n["key"] for n in unchanged["nodes"]] == ["slow", "done"]
    jobs = (await client.get("/v1/jobs", params={"workflow_id": workflow["id"]})).json()["items"]
    assert len(jobs) == 2


async def test_an_addition_meeting_the_last_nodes_end_comes_before_it_or_after(
    client: httpx.AsyncClient, shared_system: System
) -> None:
    pool = await shared_system.pool()
    try:
        for first in ("addition", "step"):
            # Given a workflow whose only node runs, and that node's row held by a transaction of ours
            workflow = await submit_workflow(client, [sleep("last", 1)])
            await wait_for_status(client, nodes_by_key(workflow)["last"]["job_id"], "running")
            adding: asyncio.Task[httpx.Response] | None = None
            async with pool.acquire() as conn, conn.transaction():
                hold = "SELECT 1 FROM workflow_nodes WHERE workflow_id = $1 AND key = 'last' FOR NO KEY UPDATE"
                await conn.execute(hold, uuid.UUID(workflow["id"]))
                # When the addition of a node below it and the step ending it meet: the first takes the
                # workflow's row and waits for ours, the other waits for the workflow's
                if first == "addition":
                    adding = asyncio.create_task(add_nodes(client, workflow["id"], [echo("b", 2, "last")]))
                    await lock_waiters(pool, 1)
                await lock_waiters(pool, 1 if first == "step" else 2)  # the worker, its node's sleep over
                if adding is None:
                    adding = asyncio.create_task(add_nodes(client, workflow["id"], [echo("b", 2, "last")]))
                    await lock_waiters(pool, 2)
            answer = await adding
            done = await wait_for_workflow(client, workflow["id"], "succeeded")
            last = await node_job(client, done, "last")
            if first == "addition":
                # Then the addition, first, had the step release the new node, which ended the workflow
                assert answer.status_code == 202, answer.text
                b = await node_job(client, done, "b")
                assert done["nodes_total"] == done["nodes_finished"] == 2 and b["attempts"] == 1
                assert at(last["finished_at"]) <= at(b["started_at"]) and done["finished_at"] == b["finished_at"]
            else:
                # Or the step, first, ended the workflow, and the addition found it finished
                assert answer.status_code == 409 and answer.json()["error"] == "workflow_finished", answer.text
                assert done["nodes_total"] == 1 and done["finished_at"] == last["finished_at"]
    finally:
        await pool.close()


async def lock_waiters(pool: asyncpg.Pool, count: int) -> None:
    """Wait until `count` sessions of the database wait for a lock."""

    async def reached() -> bool:
        waiting: int = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return waiting >= count

    await eventually(reached, timeout=10, message=f"{count} sessions waiting for a lock")
