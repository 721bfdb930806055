"""Measuring how deep a JSON body nests, without recursion."""

from __future__ import annotations

import json

from schemas.nesting import MAX_NESTING, max_depth, too_deep


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_depth_counts_arrays_and_objects_outside_strings() -> None:
    # Given brackets in strings, escaped quotes and backslashes, When measured, Then only structure counts
    assert max_depth(b'{"a": [1, {"b": []}]}') == 4
    assert max_depth(json.dumps({"a": "[[[[", "b": "]]]]", "c": '\\"[{'}).encode()) == 1
    assert max_depth(b"7") == 0


def test_body_within_the_limit_passes() -> None:
    # Given params nested as deep as allowed (the body counts as one level)
    body = '{"params": {"value": ' + _nested(MAX_NESTING - 2) + "}}"
    # Then nothing is refused
    assert too_deep(body.encode()) is None


def test_too_deep_names_the_field_a_thousand_levels_down() -> None:
    # Given bodies nested 1,000 levels deep in params, a batch's metadata, a workflow node
    job = '{"engine": "general", "params": {"value": ' + _nested(1000) + "}}"
    batch = '{"jobs": [{"params": {}}, {"metadata": {"x\\"[": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}}]}"
    node = '{"name": "w", "nodes": [{"key": "a", "params": ' + _nested(1000) + "}]}"
    # Then the path names where, cut to its first segments
    assert too_deep(job.encode()) == "params.value[0]"
    assert too_deep(batch.encode()) == "jobs[1].metadata"
    assert too_deep(node.encode()) == "nodes[0].params"


def test_unclosed_or_array_bodies_are_too_deep_as_the_body() -> None:
    assert too_deep(b"[" * 5000) == "body"
    assert too_deep(_nested(100).encode()) == "body"
    assert too_deep(b'{"a": ' + b"[" * 5000) == "a[0][0]"
