"""One definition of "the database is unavailable", shared by the gateway and every loop."""

from __future__ import annotations

import asyncpg
import pytest

from infra.db import RETRYABLE, is_unavailable


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),  # what pool.acquire raises with the server down
        ConnectionResetError(),
        TimeoutError(),  # asyncio.TimeoutError since 3.11: pool acquire and connect timeouts
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another process"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("pool is closing"),
    ],
)
def test_outages_are_unavailable(exc: Exception) -> None:
    assert is_unavailable(exc)
    assert isinstance(exc, RETRYABLE)


def test_a_deadlock_is_retryable_but_not_unavailable() -> None:
    deadlock = asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
    assert isinstance(deadlock, RETRYABLE)
    assert not is_unavailable(deadlock)


def test_wrapped_outage_is_unavailable_and_bugs_are_not() -> None:
    wrapped = RuntimeError("while looking up the key")
    wrapped.__cause__ = ConnectionRefusedError()
    assert is_unavailable(wrapped)
    assert not is_unavailable(ValueError("a bug"))
    assert not is_unavailable(asyncpg.exceptions.UniqueViolationError("duplicate key"))
