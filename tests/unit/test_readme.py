"""The README's examples run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

from tests.support.system import ROOT

README = (ROOT / "README.md").read_text()


def _python_block(header: str) -> str:
    """The ```python block of the README that starts with this comment line."""
    match = re.search(r"```python\n(" + re.escape(header) + r"\n.*?)```", README, re.S)
    assert match, f"no block starting {header!r}"
    return match.group(1)


def test_adding_an_operation_example_runs_as_copied() -> None:
    # Given the README's contract and implementation of a new operation, each added at the end
    # of its module (as the README says)
    contract_block = _python_block("# schemas/contracts/text_intelligence.py (added at the end)")
    implementation = _python_block("# actors/engines/text_intelligence.py (added at the end)")
    program = textwrap.dedent(
        """
        import json, sys, uuid
        import msgspec
        import schemas.contracts.text_intelligence as contracts
        exec(sys.argv[1], contracts.__dict__)
        import actors.engines.text_intelligence as engine
        exec(sys.argv[2], engine.__dict__)
        from actors.sdk import JobContext
        ctx = JobContext(uuid.uuid4(), "t", "text_intelligence", "word_count", 1)
        params = msgspec.convert(contracts.WORD_COUNT.example, contracts.WordCountParams)
        default = contracts.WordCountParams(text="the tide comes in, the tide goes out")
        out = [engine.word_count(ctx, params), engine.word_count(ctx, default)]
        print(msgspec.json.encode(out).decode())
        """
    )
    # When both run in a fresh interpreter and the operation is called
    done = subprocess.run(
        [sys.executable, "-c", program, contract_block, implementation],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    # Then it works, and answers what the README shows
    assert done.returncode == 0, done.stderr
    example, default = json.loads(done.stdout.strip().splitlines()[-1])  # after the operation's log line
    assert example == {"words": 8, "most_common": ["the"]}
    assert default == {"words": 8, "most_common": ["the", "tide", "comes"]}
    assert '"result": {"words": 8, "most_common": ["the", "tide", "comes"]}' in README
