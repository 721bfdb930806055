"""Shared by every test: failed tests show the logs of the processes they started."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    """Remember each phase's report on the test item (fixtures look at it in teardown)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
