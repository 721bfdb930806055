"""Property-based: thousands of generated requests from the OpenAPI document, never a 5xx."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import MakeSystem
from tests.support.system import System

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


async def _run(system: System, examples: int, *extra: str) -> tuple[int, str]:
    argv = [
        str(SCHEMATHESIS if SCHEMATHESIS.exists() else shutil.which("schemathesis")),
        "run", f"{system.base_url}/schema/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", str(examples), "--seed", "7", "--no-color",
        "--exclude-path", "/v1/events/stream",  # a valid request streams until the client leaves
        *extra,
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(360)  # thousands of requests: minutes on a busy two-core machine
async def test_no_generated_request_gets_a_server_error(make_system: MakeSystem) -> None:
    # Given a system of its own (an admin key pauses queues and sets limits as it fuzzes), and
    # a valid key (and, in a second run, none), When schemathesis sends requests generated from
    # the API's own OpenAPI document, valid and not, Then no answer is a 5xx
    system = await make_system()
    system.start_all(threads=2)
    key = await system.api_key("fuzz")
    code, out = await _run(system, 40, "--header", f"Authorization: Bearer {key}")
    assert code == 0, out[-4000:]
    code, out = await _run(system, 10)
    assert code == 0, out[-4000:]
