"""DAG rules: keys, dependencies, cycles and references, checked before anything is stored."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from schemas.jobs import find_refs
from schemas.workflows import (
    NodeState,
    WorkflowNodesAdd,
    WorkflowNodeSubmit,
    WorkflowRetrySubmit,
    WorkflowSubmit,
    check_graph,
    check_refs,
    children_of,
    find_cycle,
    retry_plan,
    topological_order,
)


def node(key: str, *deps: str, **fields: Any) -> WorkflowNodeSubmit:
    return WorkflowNodeSubmit(key=key, engine="general", operation="echo", depends_on=list(deps), **fields)


def test_check_graph_accepts_a_diamond() -> None:
    nodes = [node("a"), node("b", "a"), node("c", "a"), node("d", "b", "c")]
    assert check_graph(nodes) == []
    assert children_of(nodes) == {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}


def test_check_graph_names_duplicates_and_unknown_dependencies() -> None:
    errors = check_graph([node("a"), node("a"), node("b", "zz", "a", "a")])
    by_field = {(e.field, e.message) for e in errors}
    assert ("nodes[1].key", '"a" repeats the key of nodes[0]') in by_field
    assert ("nodes[2].depends_on", '"zz" is not the key of any node') in by_field
    assert ("nodes[2].depends_on", "lists a node twice") in by_field


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": ["a"]}, ["a"]),
        ({"a": ["b"], "b": ["c"], "c": ["a"]}, ["a", "b", "c"]),
        ({"r": [], "a": ["r", "c"], "b": ["a"], "c": ["b"]}, ["a", "c", "b"]),
        ({"a": [], "b": ["a"], "c": ["a", "b"]}, None),
    ],
)
def test_find_cycle_returns_one_cycle_or_none(graph: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


def test_check_graph_names_the_cycle() -> None:
    [error] = check_graph([node("start"), node("x", "start", "z"), node("y", "x"), node("z", "y")])
    assert error.field == "nodes[1].depends_on"
    assert "x → z → y → x" in error.message


def test_find_cycle_handles_a_long_chain_without_recursion() -> None:
    graph = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(5000)}
    assert find_cycle(graph) is None
    graph["n0"] = ["n4999"]
    cycle = find_cycle(graph)
    assert cycle is not None and len(cycle) == 5000


def test_find_refs_finds_references_anywhere() -> None:
    params = {"a": {"$ref": "x.result"}, "b": [1, {"c": {"$ref": "$item.k"}}], "d": {"$ref": "y", "other": 1}}
    assert list(find_refs(params)) == ["x.result", "$item.k"]


def test_check_refs_requires_parents_and_for_each_for_item() -> None:
    good = node("b", "a", params={"v": {"$ref": "a.result.items.0"}})
    assert check_refs(good, "nodes[1]") == []
    not_parent = node("b", "a", params={"v": {"$ref": "c.result"}})
    assert [e.message for e in check_refs(not_parent, "nodes[1]")] == ['$ref "c.result": "c" is not in depends_on']
    bad_form = node("b", "a", params={"v": {"$ref": "a.value"}})
    assert check_refs(bad_form, "nodes[1]")[0].field == "nodes[1].params"
    item_outside = node("b", "a", params={"v": {"$ref": "$item"}})
    assert "for_each" in check_refs(item_outside, "nodes[1]")[0].message
    fan = node("f", "a", for_each="a.result.list", params={"v": {"$ref": "$item"}})
    assert check_refs(fan, "nodes[1]") == []
    fan_root = node("f", for_each="a.result.list")
    assert check_refs(fan_root, "nodes[0]")[0].field == "nodes[0].for_each"


def test_check_refs_takes_a_parents_artifact_by_name() -> None:
    assert check_refs(node("b", "a", params={"image": {"$ref": "a.artifacts.card.png"}}), "nodes[1]") == []
    for bad in ("a.artifacts", "a.artifacts./etc", "a.artifact.card.png"):
        [error] = check_refs(node("b", "a", params={"image": {"$ref": bad}}), "nodes[1]")
        assert "<parent key>.artifacts.<name>" in error.message


def test_workflow_refuses_unknown_fields_and_too_many_nodes() -> None:
    base = {"key": "a", "engine": "general", "operation": "echo"}
    with pytest.raises(msgspec.ValidationError, match="status"):
        msgspec.convert({"name": "w", "nodes": [{**base, "status": "succeeded"}]}, WorkflowSubmit)
    with pytest.raises(msgspec.ValidationError, match="length <= 1000"):
        msgspec.convert({"name": "w", "nodes": [{**base, "key": f"n{i}"} for i in range(1001)]}, WorkflowSubmit)
    with pytest.raises(msgspec.ValidationError, match="on_failure"):
        msgspec.convert({"name": "w", "nodes": [base], "on_failure": "ignore"}, WorkflowSubmit)


def test_check_graph_of_added_nodes_reads_the_existing_ones() -> None:
    # Given a workflow a → b, When nodes are added below them, Then their keys count as known
    existing = {"a": [], "b": ["a"]}
    assert check_graph([node("c", "b"), node("d", "a", "c")], existing) == []
    # And a key of the workflow's, or an unknown one, is named at the added node
    errors = {(e.field, e.message) for e in check_graph([node("b", "a"), node("x", "nope")], existing)}
    assert errors == {
        ("nodes[0].key", '"b" is the key of a node of the workflow'),
        ("nodes[1].depends_on", '"nope" is not the key of any node'),
    }


def test_check_graph_names_a_cycle_of_added_nodes_at_the_first_added() -> None:
    [error] = check_graph([node("x", "a", "y"), node("y", "x")], {"a": []})
    assert error.field == "nodes[0].depends_on" and "x → y → x" in error.message


def test_children_of_added_nodes_leaves_out_existing_parents() -> None:
    assert children_of([node("c", "a"), node("d", "c", "b")]) == {"c": ["d"], "d": []}


def test_topological_order_puts_every_node_after_its_parents() -> None:
    graph = {"d": ["b", "c"], "c": ["a"], "b": ["a"], "a": []}
    order = topological_order(graph)
    assert sorted(order) == sorted(graph)
    assert all(order.index(parent) < order.index(key) for key, deps in graph.items() for parent in deps)


def state(key: str, status: str, *deps: str) -> NodeState:
    return NodeState(key=key, depends_on=list(deps), status=status)


#: root → bad → reader → last; root → side; root → bad2 → below2 (both branches failed)
FAILED = [
    state("root", "succeeded"),
    state("bad", "failed", "root"),
    state("reader", "cancelled", "bad"),
    state("last", "cancelled", "reader"),
    state("side", "succeeded", "root"),
    state("bad2", "failed", "root"),
    state("below2", "cancelled", "bad2", "reader"),
]


def test_retry_plan_without_keys_runs_every_failed_and_cancelled_node() -> None:
    assert retry_plan(FAILED, None, "cancel_dependents") == (["bad", "reader", "last", "bad2", "below2"], [])


def test_retry_plan_of_a_key_takes_what_it_stopped_unless_another_failure_stopped_it_too() -> None:
    # Given two failed branches that meet in below2, When bad alone is retried
    keys, errors = retry_plan(FAILED, ["bad"], "cancel_dependents")
    # Then bad and what hangs only below it run again; below2 also waits for bad2, which stays failed
    assert (keys, errors) == (["bad", "reader", "last"], [])
    # And under continue, below2 runs once bad's branch has, whatever bad2 did
    assert retry_plan(FAILED, ["bad"], "continue")[0] == ["bad", "reader", "last", "below2"]


def test_retry_plan_refuses_a_node_whose_failed_parent_stays_failed() -> None:
    keys, errors = retry_plan(FAILED, ["reader"], "cancel_dependents")
    assert keys == [] and [(e.field, e.message) for e in errors] == [
        ("nodes[0]", '"reader" depends on "bad", which did not succeed and is not run again')
    ]
    assert retry_plan(FAILED, ["bad", "reader"], "cancel_dependents") == (["bad", "reader", "last"], [])
    assert retry_plan(FAILED, ["reader"], "continue") == (["reader", "last", "below2"], [])


def test_retry_plan_names_unknown_succeeded_and_repeated_keys() -> None:
    keys, errors = retry_plan(FAILED, ["nope", "side", "bad", "bad"], "cancel_dependents")
    assert keys == [] and [(e.field, e.message) for e in errors] == [
        ("nodes[0]", '"nope" is not a node of the workflow: only failed or cancelled nodes run again'),
        ("nodes[1]", '"side" is succeeded: only failed or cancelled nodes run again'),
        ("nodes[3]", "repeats nodes[2]"),
    ]


def test_retry_plan_of_a_workflow_whose_nodes_all_succeeded_is_empty() -> None:
    assert retry_plan([state("a", "succeeded"), state("b", "succeeded", "a")], None, "cancel_dependents") == ([], [])


def test_additions_and_retries_refuse_unknown_fields_and_empty_lists() -> None:
    base = {"key": "a", "engine": "general", "operation": "echo"}
    assert msgspec.convert({"nodes": [base]}, WorkflowNodesAdd).nodes[0].key == "a"
    with pytest.raises(msgspec.ValidationError, match="length >= 1"):
        msgspec.convert({"nodes": []}, WorkflowNodesAdd)
    with pytest.raises(msgspec.ValidationError, match="name"):
        msgspec.convert({"nodes": [base], "name": "renamed"}, WorkflowNodesAdd)
    assert msgspec.convert({}, WorkflowRetrySubmit).nodes is None
    with pytest.raises(msgspec.ValidationError, match="length >= 1"):
        msgspec.convert({"nodes": []}, WorkflowRetrySubmit)
    with pytest.raises(msgspec.ValidationError, match="keys"):
        msgspec.convert({"keys": ["a"]}, WorkflowRetrySubmit)
