"""The error types each operation's contract declares are the ones its implementation raises."""

from __future__ import annotations

import pytest

import actors.sdk
from actors.outcome import categorize
from actors.sdk import load_engines
from schemas.contracts import COMMON_ERRORS, load_contracts
from schemas.jobs import ErrorCategory


def subclasses(base: type[BaseException]) -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    todo = [base]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("actors."):
                found[sub.__name__] = sub
            todo.append(sub)
    return found


def test_every_declared_error_type_is_an_exception_of_that_name_and_category() -> None:
    # Given every implemented operation
    registry = load_engines(diagnostics=True)
    raised = subclasses(Exception)
    for op in registry.operations():
        for declared in op.contract.errors:
            # Then each error type it declares is a class of the engines, categorized as declared
            assert declared.name in raised, f"{op.key} declares {declared.name}, which nothing defines"
            error = raised[declared.name]("boom")
            assert categorize(error, op).value == declared.category, (op.key, declared.name)


@pytest.mark.parametrize("declared", COMMON_ERRORS, ids=lambda e: e.name)
def test_the_common_error_types_name_what_a_job_records(declared) -> None:  # type: ignore[no-untyped-def]
    assert declared.category in {c.value for c in ErrorCategory}
    if declared.category in ("transient", "permanent"):
        assert getattr(actors.sdk, declared.name).__name__ == declared.name
    elif declared.category == "timeout":
        assert actors.sdk.JobTimedOut.__name__ == declared.name


def test_retry_on_takes_categories_and_the_operations_error_types() -> None:
    contracts = load_contracts()
    generate = contracts.offered("text_intelligence", "generate")
    echo = contracts.offered("general", "echo")
    assert generate is not None and echo is not None
    assert generate.retry_on_problem("ProviderRateLimited") is None
    assert generate.retry_on_problem("timeout") is None and echo.retry_on_problem("worker_lost") is None
    assert echo.retry_on_problem("TransientError") is None
    assert "ProviderRateLimited" in (echo.retry_on_problem("ProviderRateLimited") or "")
    assert "never retried as a whole" in (echo.retry_on_problem("permanent") or "")
