"""Property-based: requests generated from the OpenAPI document, valid and not, and every check
schemathesis has (`--checks all`): no 5xx, every status and body as documented, invalid requests
refused, valid ones accepted, `Allow` as the routes are, the API key required where documented."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import MakeSystem
from tests.support.system import System

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"

#: Operations whose valid requests the server may still refuse with 422, because what makes them
#: acceptable lies beyond JSON Schema: a body naming a template, an artifact or a workflow node
#: key that must (or must not) exist (a retry's nodes must be failed or cancelled ones), a
#: webhook host that must resolve to a public address, a template's params that must complete
#: a job's, a step that must fit the window. Every other check still applies to them.
LOOKED_UP = [
    "POST /v1/jobs",
    "POST /v1/jobs/batch",
    "POST /v1/workflows",
    "POST /v1/workflows/{workflow_id}/nodes",
    "POST /v1/workflows/{workflow_id}/retry",
    "POST /v1/schedules",
    "PATCH /v1/schedules/{schedule_id}",
    "POST /v1/subscriptions",
    "POST /v1/templates",
    "GET /v1/stats/timeseries",
]
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]


#: How invalid requests may be refused: schemathesis's list, and 413 (the gateway refuses a body
#: over its size limit before it reads it, whatever it holds).
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]


def config(directory: Path) -> Path:
    """A schemathesis.toml that lets LOOKED_UP operations refuse valid data with 422, and any
    refuse invalid data with 413."""
    names = ", ".join(f'"{name}"' for name in LOOKED_UP)
    statuses = ", ".join(f'"{status}"' for status in ACCEPTED)
    refused = ", ".join(f'"{status}"' for status in REFUSED)
    path = directory / "schemathesis.toml"
    path.write_text(
        f"[checks.negative_data_rejection]\nexpected-statuses = [{refused}]\n"
        f"[[operations]]\ninclude-name = [{names}]\n"
        f"[operations.checks.positive_data_acceptance]\nexpected-statuses = [{statuses}]\n"
    )
    return path


def failures(out: str) -> str:
    """What schemathesis printed of its failures (from the first one), or its end."""
    start = out.find("=== FAILURES ===")
    return out[start : start + 12000] if start >= 0 else out[-6000:]


async def _run(system: System, settings: Path, examples: int, *extra: str) -> tuple[int, str]:
    argv = [
        str(SCHEMATHESIS if SCHEMATHESIS.exists() else shutil.which("schemathesis")),
        "--config-file", str(settings),
        "run", f"{system.base_url}/schema/openapi.json",
        "--checks", "all", "--max-examples", str(examples), "--seed", "7", "--no-color",
        # A valid request streams until the client leaves: schemathesis would wait on it forever.
        "--exclude-path", "/v1/events/stream",
        *extra,
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(480)  # ~24,000 requests (the coverage phase): minutes on a busy two-core machine
async def test_generated_requests_get_the_documented_answers(make_system: MakeSystem, tmp_path: Path) -> None:
    # Given a system of its own (an admin key pauses queues and sets limits as it fuzzes), and
    # an admin key (and, in a second run, none)
    system = await make_system()
    system.start_all(threads=2)
    key = await system.api_key("fuzz")
    settings = config(tmp_path)
    # When schemathesis sends requests generated from the API's own OpenAPI document, in every
    # phase (examples, coverage, fuzzing, stateful), and checks each answer every way it can
    # (one worker: Hypothesis raises the recursion limit while it generates, and on Python 3.11
    # another thread's ast.parse then fails with "AST constructor recursion depth mismatch")
    code, out = await _run(system, settings, 10, "--workers", "1", "--header", f"Authorization: Bearer {key}")
    # Then no check fails
    assert code == 0, failures(out)
    # And without a key every route that needs one says 401, as documented (the coverage phase
    # is left out here: each answer is the 401 given before any parameter or body is read)
    code, out = await _run(system, settings, 5, "--phases", "examples,fuzzing,stateful")
    assert code == 0, failures(out)
