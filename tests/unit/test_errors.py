"""Turning msgspec and Litestar validation messages into field names."""

from __future__ import annotations

import msgspec
import pytest

from schemas.errors import field_error, join_path
from schemas.jobs import JobBatchSubmit
from schemas.workflows import WorkflowSubmit


def _message(payload: object) -> str:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(payload, JobBatchSubmit)
    return str(caught.value)


def test_located_type_error_names_its_path() -> None:
    error = field_error(_message({"jobs": [{"engine": "g", "operation": "o", "priority": "soon"}]}), "")
    assert error.field == "jobs[0].priority"


def test_unknown_field_is_named_inside_its_object() -> None:
    error = field_error(_message({"jobs": [{"engine": "g", "operation": "o", "status": "done"}]}), "")
    assert error.field == "jobs[0].status"


def test_missing_field_is_named() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert({"name": "w", "nodes": [{"engine": "g"}]}, WorkflowSubmit)
    assert field_error(str(caught.value), "").field == "nodes[0].key"


def test_base_path_prefixes_params_errors() -> None:
    assert field_error("Expected `float`, got `str` - at `$.seconds`", "params").field == "params.seconds"
    assert field_error("Object missing required field `seconds`", "jobs[2].params").field == "jobs[2].params.seconds"


def test_join_path_keeps_indices_attached() -> None:
    assert join_path("jobs", "[3].engine") == "jobs[3].engine"
    assert join_path("", "engine") == "engine"
    assert join_path("params", "") == "params"
