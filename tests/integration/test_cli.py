"""`conveyor`'s client commands against a running Conveyor: their output and exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest.mock import patch

import pytest

from services.cli import main
from tests.support.system import ROOT, System, wait_until

CLI = [sys.executable, "-m", "services.cli"]


def environment(system: System | None, key: str | None, home: Path) -> dict[str, str]:
    """A client's environment: the gateway and key as variables, profiles under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env["XDG_CONFIG_HOME"] = str(home)
    if system is not None:
        env["CONVEYOR_URL"] = system.base_url
    if key is not None:
        env["CONVEYOR_API_KEY"] = key
    return env


class Cli:
    """`conveyor …` acting for one tenant of a running system: run in this process (its `main`,
    as the `conveyor` script runs it, for speed) or as a process of its own."""

    def __init__(self, system: System, key: str, home: Path) -> None:
        self.system, self.key, self.home = system, key, home

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command to its end (in this process); its exit code and output."""
        env = env if env is not None else environment(self.system, self.key, self.home)
        out, err = io.StringIO(), io.StringIO()
        with patch.dict(os.environ, env, clear=True), redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, usage errors
                code = int(exc.code or 0)
        return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())

    def process(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command as `python -m services.cli …`; its exit code and output."""
        env = env if env is not None else environment(self.system, self.key, self.home)
        return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; its standard output."""
        done = self(*args)
        assert done.returncode == 0, f"conveyor {' '.join(args)} exited {done.returncode}: {done.stderr}"
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a command without waiting for it."""
        env = environment(self.system, self.key, self.home)
        return subprocess.Popen(
            [*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )


@pytest.fixture
async def cli(shared_system: System, tmp_path: Path) -> Cli:
    """The CLI for a tenant of this test's own (a key with every scope)."""
    return Cli(shared_system, await shared_system.api_key(f"cli-{secrets.token_hex(4)}"), tmp_path)


def test_cli_jobs_submit_watch_show_list_events(cli: Cli) -> None:
    # Given a job submitted from the command line (piped: its id alone)
    job_id = cli.ok(
        "jobs", "submit", "general", "echo", "--params", '{"value": 3}', "--tag", "cli", "--priority", "high"
    )
    job_id = job_id.strip()
    uuid.UUID(job_id)
    # When it is watched to its end
    watched = cli("jobs", "watch", job_id)
    # Then watch exits 0 naming the end, and show, list and events agree
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-1] == f"{job_id} succeeded"
    shown = json.loads(cli.ok("jobs", "show", job_id, "--json"))
    assert (shown["status"], shown["result"], shown["priority"], shown["tags"]) == (
        "succeeded",
        {"value": 3},
        7,
        ["cli"],
    )
    plain = cli.ok("jobs", "show", job_id)
    assert "status     succeeded" in plain and '{"value":3}' in plain
    listing = cli.ok("jobs", "list", "--tag", "cli").splitlines()
    assert listing[0].split() == ["ID", "OPERATION", "STATUS", "CREATED", "TAGS"]
    assert listing[1].split()[:3] == [job_id, "general.echo", "succeeded"]
    events = [line.split()[3] for line in cli.ok("jobs", "events", job_id).splitlines()[1:]]
    assert events[0] == "job.queued" and events[-1] == "job.succeeded"
    # And a finished job can be deleted, after which it is gone
    assert cli.ok("jobs", "delete", job_id).strip() == f"{job_id} deleted"
    gone = cli("jobs", "show", job_id)
    assert gone.returncode == 1 and gone.stderr.startswith("conveyor: 404 ")


def test_cli_jobs_watch_exits_1_on_failure_and_2_on_cancellation(cli: Cli) -> None:
    # Given a job that fails for good, and one that sleeps
    failing = cli.ok("jobs", "submit", "general", "flaky", "--params", '{"permanent": true}').strip()
    sleeping = cli.ok("jobs", "submit", "general", "sleep", "--params", '{"seconds": 60}').strip()
    watcher = cli.start("jobs", "watch", sleeping)
    assert watcher.stdout is not None
    # When the sleeping one is cancelled once the watch shows its progress
    seen = [watcher.stdout.readline()]
    while "job.progress" not in seen[-1] and seen[-1] and len(seen) < 20:
        seen.append(watcher.stdout.readline())
    cli.ok("jobs", "cancel", sleeping)
    out, err = watcher.communicate(timeout=30)
    out = "".join(seen) + out
    # Then its watch exits 2, and the failed one's watch 1 with its error
    assert watcher.returncode == 2, err
    lines = out.splitlines()
    assert lines[-1] == f"{sleeping} cancelled: JobCancelled: cancelled on request"
    assert [line.split()[1] for line in lines[:2]] == ["job.queued", "job.started"]
    assert any(line.split()[1:3] == ["job.progress", "running"] for line in lines)
    assert lines[-2].split()[1:3] == ["job.cancelled", "cancelled"]
    failed = cli("jobs", "watch", failing)
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[-1].startswith(f"{failing} failed: PermanentError: attempt 1 fails permanently")
    # And a retry queues the cancelled one again
    assert cli.ok("jobs", "retry", sleeping).startswith(f"{sleeping} queued")
    cli.ok("jobs", "cancel", sleeping)


def test_cli_errors_are_one_line_and_exit_1(cli: Cli, tmp_path: Path) -> None:
    # When the API refuses, Then one line names the status, the code and the problem
    missing = uuid.uuid4()
    refused = cli.process("jobs", "show", str(missing))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == f"conveyor: 404 job_not_found: no job {missing}\n"
    invalid = cli("jobs", "submit", "general", "sleep", "--params", '{"seconds": "long"}')
    assert invalid.returncode == 1
    assert invalid.stderr == "conveyor: 422 invalid_job: params.seconds: Expected `float`, got `str`\n"
    # And an absent gateway is one line too; bad arguments are argparse's usage error (2)
    env = environment(None, cli.key, tmp_path)
    nowhere = cli.process("jobs", "list", "--url", "http://127.0.0.1:9", env=env)
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith("conveyor: cannot reach http://127.0.0.1:9: ") and nowhere.stderr.count("\n") == 1
    unreadable = cli("jobs", "submit", "general", "echo", "--params", "{nope")
    assert unreadable.returncode == 2 and "argument --params: not JSON" in unreadable.stderr
    assert "Traceback" not in refused.stderr + invalid.stderr + nowhere.stderr + unreadable.stderr


def test_cli_workflows_submit_watch_show_as_a_tree(cli: Cli, tmp_path: Path) -> None:
    # Given a workflow file: a, then b and c after a, then d after both
    nodes = [
        {"key": "a", "engine": "general", "operation": "echo", "params": {"value": 1}},
        {"key": "b", "engine": "general", "operation": "echo", "params": {"value": 2}, "depends_on": ["a"]},
        {"key": "c", "engine": "general", "operation": "echo", "params": {"value": 3}, "depends_on": ["a"]},
        {"key": "d", "engine": "general", "operation": "echo", "params": {"value": 4}, "depends_on": ["b", "c"]},
    ]
    path = tmp_path / "flow.json"
    path.write_text(json.dumps({"name": "cli-flow", "nodes": nodes}))
    # When it is submitted and watched
    workflow_id = cli.ok("workflows", "submit", str(path)).strip()
    watched = cli("workflows", "watch", workflow_id)
    # Then watch exits 0, and show draws the DAG with each node's state
    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-1] == f"{workflow_id} succeeded"
    tree = cli.ok("workflows", "show", workflow_id).splitlines()
    assert tree == [
        "cli-flow  succeeded  4/4 nodes finished",
        "  a  succeeded  general.echo",
        "    b  succeeded  general.echo",
        "      d  succeeded  general.echo  (also after c)",
        "    c  succeeded  general.echo",
    ]
    assert json.loads(cli.ok("workflows", "show", workflow_id, "--json"))["status"] == "succeeded"
    finished = cli("workflows", "cancel", workflow_id)
    assert finished.returncode == 1 and finished.stderr.startswith("conveyor: 409 workflow_finished: ")


def test_cli_workflows_watch_exits_1_when_a_node_fails(cli: Cli, tmp_path: Path) -> None:
    # Given a workflow whose first node fails for good
    nodes = [
        {"key": "a", "engine": "general", "operation": "flaky", "params": {"permanent": True}, "max_retries": 0},
        {"key": "b", "engine": "general", "operation": "echo", "params": {"value": 1}, "depends_on": ["a"]},
    ]
    path = tmp_path / "failing.json"
    path.write_text(json.dumps({"name": "cli-failing", "nodes": nodes}))
    workflow_id = cli.ok("workflows", "submit", str(path)).strip()
    # When it is watched, Then watch exits 1, the tree showing the failure and what it stopped
    watched = cli("workflows", "watch", workflow_id, "--json")
    assert watched.returncode == 1, watched.stderr
    assert json.loads(watched.stdout)["status"] == "failed"
    tree = cli.ok("workflows", "show", workflow_id).splitlines()
    assert tree[1].startswith("  a  failed  general.flaky  PermanentError: ")
    assert tree[2] == '    b  cancelled  general.echo  UpstreamFailed: upstream node "a" failed'
    # And it is listed as failed, and on retry runs again from its failed node (whose second
    # attempt succeeds), through to its end
    listing = cli.ok("workflows", "list", "--status", "failed", "--name", "cli-failing").splitlines()
    assert listing[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert listing[1].split()[:3] == [workflow_id, "cli-failing", "failed"]
    assert cli.ok("workflows", "retry", workflow_id, "--node", "a").strip() == f"{workflow_id} running (retry 1)"
    again = cli("workflows", "watch", workflow_id, "--json")
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["status"], json.loads(again.stdout)["retries"]) == ("succeeded", 1)


def test_cli_tail_prints_the_filtered_stream(cli: Cli) -> None:
    # Given a finished job
    job_id = cli.ok("jobs", "submit", "general", "echo", "--params", '{"value": 1}').strip()
    assert cli("jobs", "watch", job_id).returncode == 0
    # When its events are tailed from the start of the log, three of them
    lines = cli.ok("tail", "--job", job_id, "--after", "0", "--type", "job.*", "--count", "3").splitlines()
    # Then each is one line: id, time, type, job, operation, status
    assert [line.split()[3] for line in lines] == ["job.queued", "job.started", "job.succeeded"]
    assert all(line.split()[4:7] == [job_id, "general.echo", line.split()[6]] for line in lines)
    as_json = [
        json.loads(line)
        for line in cli.ok("tail", "--job", job_id, "--after", "0", "--count", "3", "--json").splitlines()
    ]
    assert [event["type"] for event in as_json] == ["job.queued", "job.started", "job.succeeded"]


def test_cli_login_saves_a_private_profile_used_after(cli: Cli, tmp_path: Path) -> None:
    # Given no gateway or key in the environment
    bare = environment(None, None, tmp_path)
    # When one logs in with them
    logged = cli("login", "--url", cli.system.base_url, "--key", cli.key, "--profile", "dev", env=bare)
    # Then the profile is saved, readable by its owner only, and used by the next commands
    assert logged.returncode == 0, logged.stderr
    path = tmp_path / "conveyor" / "profiles.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["profiles"]["dev"] == {"url": cli.system.base_url, "key": cli.key}
    assert cli("jobs", "list", env=bare).returncode == 0
    assert cli("jobs", "list", "--profile", "dev", env=bare).returncode == 0
    unknown = cli("jobs", "list", "--profile", "prod", env=bare)
    assert unknown.returncode == 1 and unknown.stderr.startswith("conveyor: no profile 'prod'")
    # And a wrong key is refused before anything is saved
    refused = cli("login", "--url", cli.system.base_url, "--key", "cvk_wrong", "--profile", "bad", env=bare)
    assert refused.returncode == 1 and refused.stderr.startswith("conveyor: 401 ")
    assert "bad" not in json.loads(path.read_text())["profiles"]


def test_cli_schedules_create_disable_enable_delete(cli: Cli) -> None:
    # Given a schedule created from the command line
    schedule_id = cli.ok(
        "schedules", "create", "nightly", "0 3 * * *", "general", "echo", "--params", '{"value": 1}'
    ).strip()
    # When it is disabled, then enabled
    disabled = json.loads(cli.ok("schedules", "disable", schedule_id, "--json"))
    enabled = json.loads(cli.ok("schedules", "enable", schedule_id, "--json"))
    # Then each change shows, the listing has it, and once deleted it is gone
    assert (disabled["enabled"], enabled["enabled"]) == (False, True)
    listing = cli.ok("schedules", "list").splitlines()
    assert listing[1].split()[:2] == [schedule_id, "nightly"]
    assert cli.ok("schedules", "delete", schedule_id) == f"{schedule_id} deleted\n"
    gone = cli("schedules", "show", schedule_id)
    assert gone.returncode == 1 and gone.stderr.startswith("conveyor: 404 ")


def test_cli_subscriptions_create_test_list_delete(cli: Cli) -> None:
    # Given an inbox subscription to failures
    subscription_id = cli.ok("subscriptions", "create", "--inbox", "--event", "job.failed").strip()
    # When it is tested and listed
    tested = cli.ok("subscriptions", "test", subscription_id)
    listing = cli.ok("subscriptions", "list").splitlines()
    # Then the test was sent, the listing has it, and once deleted it is gone
    assert tested.startswith("test sent: ")
    assert listing[1].split()[:4] == [subscription_id, "inbox", "inbox", "job.failed"]
    assert json.loads(cli.ok("subscriptions", "show", subscription_id, "--json"))["events"] == ["job.failed"]
    cli.ok("subscriptions", "delete", subscription_id)
    assert cli("subscriptions", "show", subscription_id).returncode == 1


def terminal_percent(screen: str) -> int | None:
    """The percentage the progress bar on a captured screen shows (None: no bar)."""
    found = re.search(r"━.*?\s(\d+)%", screen)
    return int(found[1]) if found else None


def test_cli_jobs_watch_in_a_terminal_shows_the_bar_advancing(cli: Cli, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the terminal test drives `conveyor jobs watch` in a tmux pane")
    # Given a job that sleeps 6 s, watched in a terminal (a tmux pane of our own server)
    job_id = cli.ok("jobs", "submit", "general", "sleep", "--params", '{"seconds": 6}').strip()
    tmux = ["tmux", "-S", str(tmp_path / "tmux.sock")]  # a server of this test's own
    variables = {"CONVEYOR_URL": cli.system.base_url, "CONVEYOR_API_KEY": cli.key, "XDG_CONFIG_HOME": str(tmp_path)}
    watch = shlex.join(["env", *(f"{k}={v}" for k, v in variables.items()), *CLI, "jobs", "watch", job_id])
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "20", "-c", str(ROOT)], check=True)
    try:
        subprocess.run([*tmux, "send-keys", f'{watch}; echo "EXIT"=$?', "Enter"], check=True)

        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=True).stdout

        # When the pane is captured twice while the job runs
        first = wait_until(
            lambda: (p := terminal_percent(screen())) is not None and 0 < p < 100 and p, timeout=20, message=screen()
        )
        second = wait_until(lambda: (p := terminal_percent(screen())) is not None and p > first and p, timeout=20)
        # Then the bar advanced, and the command ended with exit code 0
        assert first < second
        final = wait_until(lambda: "EXIT=" in (s := screen()) and s, timeout=30)  # the command line shows "EXIT"=
        assert "EXIT=0" in final and f"{job_id} succeeded" in final
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
