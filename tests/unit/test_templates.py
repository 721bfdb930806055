"""Template references and how a submission merges into a template's body."""

from __future__ import annotations

import pytest

from schemas.templates import deep_merge, merged, parse_ref


def test_a_reference_names_a_template_and_optionally_a_version() -> None:
    assert parse_ref("summary") == ("summary", None)
    assert parse_ref("blog.post-v2@12") == ("blog.post-v2", 12)
    for bad in ("", "@3", "name@0", "name@x", "a b", "name@3@4"):
        with pytest.raises(ValueError, match="not a template name"):
            parse_ref(bad)


def test_given_fields_replace_and_params_merge_at_every_depth() -> None:
    body = {
        "engine": "text_intelligence",
        "operation": "summarize",
        "priority": "high",
        "params": {"max_sentences": 2, "style": {"tone": "calm", "length": "short"}},
        "tags": ["blog"],
        "metadata": {"team": "content"},
    }
    given = {"params": {"text": "…", "style": {"tone": "bold"}}, "priority": "low", "tags": ["urgent", "blog"]}
    assert merged(body, given) == {
        "engine": "text_intelligence",
        "operation": "summarize",
        "priority": "low",
        "params": {"max_sentences": 2, "style": {"tone": "bold", "length": "short"}, "text": "…"},
        "tags": ["blog", "urgent"],
        "metadata": {"team": "content"},
    }


def test_a_value_that_is_not_an_object_replaces_whatever_was_there() -> None:
    assert deep_merge({"a": {"b": 1}, "c": [1, 2]}, {"a": 5, "c": [3]}) == {"a": 5, "c": [3]}
    assert merged({"params": {"x": 1}}, {"params": None}) == {"params": None}
