"""The operation SDK: registry, declaration, context."""

from __future__ import annotations

import threading
import time
import uuid

import msgspec
import pytest

from actors.outcome import encode_result
from actors.sdk import JobCancelled, JobContext, PermanentError, Registry, load_engines, operation
from schemas.engines import ENGINES


class P(msgspec.Struct):
    x: int


class R(msgspec.Struct):
    y: int


def test_operation_registers_with_schemas_and_description() -> None:
    registry = Registry()

    @operation("text_intelligence", "double", params=P, result=R, timeout_seconds=30, registry=registry)
    def double(ctx: JobContext, p: P) -> R:
        """Double a number.

        More text that is not the summary."""
        return R(p.x * 2)

    op = registry.get("text_intelligence", "double")
    assert op is not None and op.key == "text_intelligence.double"
    assert op.description == "Double a number."
    assert op.params_schema()["$ref"].endswith("/P")
    assert op.timeout_seconds == 30
    assert double(None, P(2)) == R(4)  # type: ignore[arg-type]  # the decorator returns the function


def test_unknown_engine_and_duplicates_are_refused() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="unknown engine"):
        operation("nope", "x", params=P, result=R, registry=registry)(lambda ctx, p: R(1))
    operation("general", "x", params=P, result=R, registry=registry)(lambda ctx, p: R(1))
    with pytest.raises(ValueError, match="declared twice"):
        operation("general", "x", params=P, result=R, registry=registry)(lambda ctx, p: R(1))


def test_registry_imports_without_connecting_and_holds_the_diagnostics() -> None:
    registry = load_engines()
    assert {op.name for op in registry.operations("general")} >= {"echo", "sleep", "flaky"}
    assert all(op.engine in ENGINES for op in registry.operations() if not op.internal)


def test_internal_operations_live_on_their_queue_and_are_not_offered() -> None:
    # Given the loaded engines
    registry = load_engines()
    # Then the notifications queue holds the delivery operations, internal ones only
    internal = {op.key for op in registry.operations() if op.internal}
    assert internal == {"notifications.webhook", "notifications.email"}
    assert registry.get("notifications", "webhook") is not None
    # And clients are offered none of them
    assert registry.offered("notifications", "webhook") is None
    assert registry.offered("general", "echo") is not None


def test_internal_operations_need_an_internal_queue_and_engines_need_an_engine() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="unknown internal queue"):
        operation("general", "x", params=P, result=R, internal=True, registry=registry)(lambda ctx, p: R(1))
    with pytest.raises(ValueError, match="unknown engine"):
        operation("notifications", "x", params=P, result=R, registry=registry)(lambda ctx, p: R(1))


def test_a_context_outside_a_worker_says_it_has_no_database() -> None:
    with pytest.raises(RuntimeError, match="outside a worker"):
        _ctx().database(lambda pool: pool.fetchval("SELECT 1"))


def test_operations_nothing_can_interrupt_exist_only_with_diagnostics_on() -> None:
    # Given the engines loaded with diagnostics off (the default) and on
    off, on = load_engines(), load_engines(diagnostics=True)
    # Then general.block is only in the second; every other operation is in both
    assert off.get("general", "block") is None
    block = on.get("general", "block")
    assert block is not None and block.diagnostic
    assert {op.key for op in on.operations()} - {op.key for op in off.operations()} == {"general.block"}


def _ctx() -> JobContext:
    return JobContext(uuid.uuid4(), "t", "general", "sleep", 1)


def test_progress_is_clamped_and_taken_once() -> None:
    ctx = _ctx()
    ctx.progress(1.7, "almost")
    assert ctx.take_progress() == (1.0, "almost")
    assert ctx.take_progress() is None


def test_cancellation_wakes_a_sleeping_operation() -> None:
    ctx = _ctx()
    threading.Timer(0.05, ctx.cancel).start()
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        ctx.sleep(10)
    assert time.monotonic() - started < 5
    with pytest.raises(JobCancelled):
        ctx.raise_if_cancelled()


def test_results_with_a_nul_character_fail_permanently_naming_where() -> None:
    class Text(msgspec.Struct):
        text: list[str]

    registry = Registry()

    @operation("general", "nul", params=P, result=Text, registry=registry)
    def nul(ctx: JobContext, p: P) -> Text:
        return Text(["ok", "a\x00b"])

    op = registry.get("general", "nul")
    assert op is not None
    with pytest.raises(PermanentError, match=r"NUL character at result\.text\[1\]"):
        encode_result(op, nul(None, P(1)))  # type: ignore[arg-type]
    assert encode_result(op, Text(["fine"])) == {"text": ["fine"]}


def test_progress_messages_are_kept_storable_and_short() -> None:
    ctx = JobContext(uuid.uuid4(), "t", "general", "echo", 1)
    ctx.progress(0.5, "x\x00" + "y" * 5000)
    taken = ctx.take_progress()  # what the heartbeat writes
    assert taken is not None
    fraction, message = taken
    assert fraction == 0.5 and message is not None and message.startswith("x\\0y") and len(message) == 1000
