"""The operation SDK: contracts, their implementations, the job context."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid

import msgspec
import pytest

from actors.outcome import encode_result
from actors.sdk import JobCancelled, JobContext, PermanentError, Registry, load_engines, operation
from schemas.contracts import Contracts, contract, load_contracts
from schemas.engines import ENGINES


class P(msgspec.Struct):
    x: int


class R(msgspec.Struct):
    y: int


def test_a_contract_declares_what_an_implementation_then_runs() -> None:
    # Given a contract, declared apart from any implementation
    contracts = Contracts()
    declared = contract(
        "text_intelligence", "double", params=P, result=R, description="Double a number.", example={"x": 2},
        timeout_seconds=30, registry=contracts,
    )  # fmt: skip
    assert contracts.offered("text_intelligence", "double") is declared
    assert declared.key == "text_intelligence.double"
    assert declared.params_schema()["$ref"].endswith("/P")
    # When a worker's module implements it
    registry = Registry()

    @operation(declared, registry=registry)
    def double(ctx: JobContext, p: P) -> R:
        return R(p.x * 2)

    # Then the operation runs the function under the contract's names and limits
    op = registry.get("text_intelligence", "double")
    assert op is not None and op.contract is declared and op.key == "text_intelligence.double"
    assert (op.params, op.result, op.timeout_seconds) == (P, R, 30)
    assert double(None, P(2)) == R(4)  # type: ignore[arg-type]  # the decorator returns the function
    with pytest.raises(ValueError, match="implemented twice"):
        operation(declared, registry=registry)(double)


def test_unknown_engines_duplicates_and_bad_examples_are_refused() -> None:
    contracts = Contracts()
    with pytest.raises(ValueError, match="unknown engine"):
        contract("nope", "x", params=P, result=R, description="", registry=contracts)
    contract("general", "x", params=P, result=R, description="", registry=contracts)
    with pytest.raises(ValueError, match="declared twice"):
        contract("general", "x", params=P, result=R, description="", registry=contracts)
    with pytest.raises(ValueError, match=r"example params of general\.y are not valid"):
        contract("general", "y", params=P, result=R, description="", example={"x": "two"}, registry=contracts)


def test_every_contract_has_an_implementation_and_a_valid_example() -> None:
    contracts = load_contracts(diagnostics=True)
    registry = load_engines(diagnostics=True)
    assert {c.key for c in contracts.operations()} == {op.key for op in registry.operations()}
    assert {c.name for c in contracts.operations("general")} >= {"echo", "sleep", "flaky", "block"}
    for declared in contracts.operations():
        assert declared.description, declared.key
        if not declared.internal:
            assert declared.example is not None, f"{declared.key} has no example params"
    assert all(c.engine in ENGINES for c in contracts.operations() if not c.internal)
    assert "block" not in {c.name for c in load_contracts().operations("general")}


def test_a_worker_loads_only_its_queues_engines() -> None:
    registry = load_engines(["general"])
    assert {op.engine for op in registry.operations()} == {"general"}
    assert registry.get("notifications", "webhook") is None


def test_internal_operations_live_on_their_queue_and_are_not_offered() -> None:
    # Given the contracts
    contracts = load_contracts()
    # Then the notifications queue holds the delivery operations, internal ones only
    internal = {c.key for c in contracts.operations() if c.internal}
    assert internal == {"notifications.webhook", "notifications.email"}
    assert contracts.get("notifications", "webhook") is not None
    # And clients are offered none of them
    assert contracts.offered("notifications", "webhook") is None
    assert contracts.offered("general", "echo") is not None


def test_internal_operations_need_an_internal_queue_and_engines_need_an_engine() -> None:
    contracts = Contracts()
    with pytest.raises(ValueError, match="unknown internal queue"):
        contract("general", "x", params=P, result=R, description="", internal=True, registry=contracts)
    with pytest.raises(ValueError, match="unknown engine"):
        contract("notifications", "x", params=P, result=R, description="", registry=contracts)


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
    declared = contract("general", "nul", params=P, result=Text, description="", registry=Contracts())

    @operation(declared, registry=registry)
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


def test_the_gateway_and_the_scheduler_load_contracts_not_implementations() -> None:
    # Given a fresh interpreter that builds the gateway's app (which loads what it validates
    # against) and imports the scheduler
    probe = (
        "import sys, services.cron, services.scheduler\n"
        "from infra.settings import load_settings\n"
        "from services.gateway.app import create_app\n"
        "app = create_app(load_settings())\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('actors.engines'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    # Then no implementation module is imported
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_a_worker_imports_its_own_engines_and_not_the_libraries_of_others() -> None:
    # Given a fresh interpreter loading the engines of two text queues, as their worker does
    probe = (
        "import sys\n"
        "from actors.sdk import load_engines\n"
        "load_engines(['discovery_analytics', 'social_media_planner'])\n"
        "engines = sorted(m for m in sys.modules if m.startswith('actors.engines.'))\n"
        "print(','.join(engines), 'PIL' in sys.modules, 'imageio_ffmpeg' in sys.modules, 'httpx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    # Then only those engines' modules are imported: no image, media or provider library
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.split()
        == ["actors.engines.discovery_analytics,actors.engines.social_media_planner"] + ["False"] * 3
    )
