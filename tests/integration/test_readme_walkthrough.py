"""The README's walk-through runs as pasted, block after block, against a running system."""

from __future__ import annotations

import asyncio
import re
import secrets

from tests.support.system import ROOT, System

README = (ROOT / "README.md").read_text()


def walkthrough() -> str:
    """The shell blocks of the README's walk-through, in order, as one script."""
    section = README[README.index("## Walk-through\n") : README.index("Every error is JSON naming the fields")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) >= 3, "the walk-through's blocks"
    return "\n".join(blocks)


async def test_readme_walkthrough_runs_as_pasted(shared_system: System) -> None:
    # Given the walk-through, pointed at this system's gateway and a key of a tenant of its own
    # (its first lines say where the gateway is and read the key `make up` keeps)
    key = await shared_system.api_key(f"readme-{secrets.token_hex(3)}")
    script = walkthrough()
    assert "API=http://127.0.0.1:8000\n" in script and "KEY=$(cat .local/dev-api-key)" in script
    script = script.replace("API=http://127.0.0.1:8000", f"API={shared_system.base_url}")
    script = script.replace("KEY=$(cat .local/dev-api-key)", f"KEY={key}")
    # When bash runs it, stopping at the first command that fails
    process = await asyncio.create_subprocess_exec(
        "bash", "-euo", "pipefail", "-c", script, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=100)
    text = out.decode()
    # Then every block ran: the sleep was cancelled, the failed job retried to success and
    # deleted, the idempotent, delayed and batched submissions accepted
    assert process.returncode == 0, text[-3000:]
    assert '"status":"cancelled"' in text or '"cancel_requested_at":"' in text, text[-3000:]
    assert '"category":"permanent"' in text and re.search(r"\D204\n", text), text[-3000:]
    assert '"status":"scheduled"' in text and '"jobs":[' in text, text[-3000:]
