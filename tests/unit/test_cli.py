"""The `conveyor` command line without a gateway: parsing, help, rendering, profiles, completion."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.settings import CLIENT_VARIABLES, load_settings
from schemas.workflows import WorkflowNodeView, WorkflowView
from services.cli import main, parser
from services.cli.completion import script
from services.cli.output import Output, cell, plain_table
from services.cli.profiles import Profile, ProfileError, config_path, resolve, save
from services.cli.trees import tree_rows
from services.cli.watch import exit_code

SERVER = {"gateway", "worker", "scheduler", "migrate", "keys", "services", "up"}


def leaves(root: argparse.ArgumentParser, path: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that runs something, with its path."""
    groups = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, root
    for action in groups:
        for name, child in action.choices.items():
            yield from leaves(child, f"{path} {name}".strip())


def test_cli_parses_jobs_submit_as_the_issue_writes_it(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text('{"seconds": 5}')
    args = parser().parse_args(
        ["jobs", "submit", "general", "sleep", "--params", f"@{params}", "--priority", "high", "--tag", "a",
         "--tag", "b", "--delay", "90", "--idempotency-key", "order-17", "--json"]
    )  # fmt: skip
    assert (args.engine, args.operation, args.params, args.priority) == ("general", "sleep", {"seconds": 5}, "high")
    assert (args.tag, args.delay, args.idempotency_key, args.json) == (["a", "b"], 90.0, "order-17", True)
    assert parser().parse_args(["jobs", "submit", "general", "echo", "--priority", "7"]).priority == 7


def test_cli_refuses_bad_arguments_with_a_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["jobs", "submit", "general", "echo", "--priority", "urgent"], "0–9, or low, normal, high or critical"),
        (["jobs", "submit", "general", "echo", "--params", "[1]"], "must be a JSON object"),
        (["jobs", "submit", "general", "echo", "--params", "@/nonexistent.json"], "cannot read /nonexistent.json"),
        (["jobs", "show", "not-an-id"], "invalid UUID value"),
    ):
        with pytest.raises(SystemExit) as exited:
            parser().parse_args(argv)
        assert exited.value.code == 2
        assert message in capsys.readouterr().err


def test_cli_every_client_command_has_json_an_example_and_its_defaults() -> None:
    commands = {path: command for path, command in leaves(parser()) if path.split()[0] not in SERVER}
    assert {
        "jobs submit",
        "jobs watch",
        "workflows watch",
        "queues limit",
        "dlq purge",
        "stats",
        "tail",
        "login",
    } <= set(commands)
    for path, command in commands.items():
        text = command.format_help()
        assert "--json" in text, path
        assert "conveyor" in text.split("example:\n  ", 1)[1], path
    assert "(default: 1h)" in commands["stats"].format_help()
    assert "(default: queue)" in commands["stats"].format_help()


def test_cli_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("conveyor ") and out.strip() != "conveyor unknown"


def test_output_plain_table_aligns_columns_without_styling() -> None:
    stream = io.StringIO()
    Output("plain", stream).table(["id", "status", "tags"], [("a1", "succeeded", ["x", "y"]), ("b", "failed", [])])
    assert stream.getvalue() == "ID  STATUS     TAGS\na1  succeeded  x,y\nb   failed     -\n"
    assert plain_table(["a"], [["1"]]) == "A\n1\n"


def test_output_cells_are_short_and_readable() -> None:
    at = datetime(2026, 12, 3, 8, 0, 1, 123456, tzinfo=UTC)
    assert [cell(None), cell(True), cell(0.25), cell(at), cell({"v": 1})] == [
        "-",
        "yes",
        "0.25",
        "2026-12-03 08:00:01",
        '{"v":1}',
    ]


def node(key: str, status: str, *parents: str) -> WorkflowNodeView:
    """A workflow node's view."""
    return WorkflowNodeView(
        key=key, job_id=None, status=status, depends_on=list(parents), engine="general", operation="echo",
        for_each=None, items_total=None, items_finished=None, error=None, finished_at=None,
    )  # fmt: skip


def test_tree_rows_place_each_node_under_its_first_parent() -> None:
    view = WorkflowView(
        id=uuid.uuid4(), name="flow", status="running", on_failure="cancel_dependents", tags=[], metadata={},
        idempotency_key=None, nodes_total=4, nodes_finished=1, nodes_failed=0, nodes_cancelled=0,
        cancel_requested_at=None, created_at=datetime.now(UTC), finished_at=None,
        nodes=[
            node("a", "succeeded"), node("b", "running", "a"), node("c", "queued", "a"), node("d", "waiting", "b", "c"),
        ],
    )  # fmt: skip
    assert tree_rows(view) == [
        (0, "flow  running  1/4 nodes finished"),
        (1, "a  succeeded  general.echo"),
        (2, "b  running  general.echo"),
        (3, "d  waiting  general.echo  (also after c)"),
        (2, "c  queued  general.echo"),
    ]


def test_watch_exit_codes_say_how_it_ended() -> None:
    assert [exit_code(s) for s in ("succeeded", "failed", "cancelled")] == [0, 1, 2]


def test_profiles_flags_win_over_variables_over_the_saved_profile(tmp_path: Path) -> None:
    # Given a saved profile
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    save(config_path(environ), "dev", Profile(url="http://dev:8000/", key="cvk_dev"))
    # Then it is private and the default; variables override it, flags override both
    assert stat.S_IMODE(config_path(environ).stat().st_mode) == 0o600
    assert resolve(None, None, None, environ) == resolve(None, None, "dev", environ)
    assert resolve(None, None, None, environ).key == "cvk_dev"
    with_vars = {**environ, "CONVEYOR_URL": "http://env:1", "CONVEYOR_API_KEY": "cvk_env"}
    assert (resolve(None, None, None, with_vars).url, resolve(None, None, None, with_vars).key) == (
        "http://env:1",
        "cvk_env",
    )
    assert resolve("http://flag:2", "cvk_flag", None, with_vars).key == "cvk_flag"
    with pytest.raises(ProfileError):
        resolve(None, None, "prod", environ)
    assert json.loads(config_path(environ).read_text())["default"] == "dev"


def test_client_command_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given no gateway where the command looks
    code = main(["jobs", "list", "--url", "http://127.0.0.1:9", "--key", "cvk_x"])
    # Then it exits 1 with one line, no traceback
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("conveyor: cannot reach http://127.0.0.1:9: ") and err.count("\n") == 1


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("jobs s", "show submit"),
        ("jobs submit --pri", "--priority"),
        ("q", "queues"),
        ("jobs list --status s", "scheduled succeeded"),
        ("stats --window 2", "24h"),
    ],
)
def test_completion_script_completes_commands_and_options(words: str, expected: str) -> None:
    typed = words.split()
    line = f'COMP_WORDS=(conveyor {" ".join(typed)}); COMP_CWORD={len(typed)}; _conveyor; echo "${{COMPREPLY[@]}}"'
    done = subprocess.run(["bash", "-c", script(parser(), "bash") + line], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected


def test_server_commands_ignore_the_client_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shell that exports the client's variables (no settings of the servers)
    monkeypatch.setenv("CONVEYOR_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("CONVEYOR_API_KEY", "cvk_x")
    seen: list[str] = []
    monkeypatch.setattr("services.cli.run_server_command", lambda args: seen.append(args.command) or 0)
    # When a server command runs, Then it runs, its settings (and its processes') read without them
    assert main(["migrate"]) == 0
    assert seen == ["migrate"]
    others = {name: value for name, value in os.environ.items() if name not in CLIENT_VARIABLES}
    assert load_settings() == load_settings(others)
