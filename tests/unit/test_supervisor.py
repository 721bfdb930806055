"""The supervisor: children that cannot start stop everything; watched code restarts children."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

from infra.local.net import port_free
from services.supervisor import CANNOT_START, CodeWatcher, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_code_watcher_tells_added_changed_and_removed_files(tmp_path: Path) -> None:
    # Given a folder with a module and a query file, watched
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "q.sql").write_text("SELECT 1;\n")
    (tmp_path / "notes.txt").write_text("not code\n")
    watcher = CodeWatcher([tmp_path])
    assert watcher.changed() == []
    # When a module changes, one is added, the query file goes and a non-code file changes
    os.utime(tmp_path / "a.py", (time.time() + 5, time.time() + 5))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "b.py").write_text("y = 2\n")
    (tmp_path / "q.sql").unlink()
    (tmp_path / "notes.txt").write_text("still not code\n")
    # Then exactly the code files are reported, once
    assert watcher.changed() == sorted([tmp_path / "a.py", tmp_path / "pkg" / "b.py", tmp_path / "q.sql"])
    assert watcher.changed() == []


def test_a_child_that_cannot_start_stops_the_supervisor(capsys) -> None:  # type: ignore[no-untyped-def]
    # Given a long-running child and one that exits saying it cannot start
    supervisor = Supervisor(stop_timeout=5)
    sleeper = supervisor.add("sleeper", SLEEPER)
    supervisor.add("doomed", [sys.executable, "-c", f"raise SystemExit({CANNOT_START})"])
    # When supervised, Then the supervisor stops everything and answers 1, with one line
    assert supervisor.run() == 1
    assert sleeper.process is not None and sleeper.process.poll() is not None
    assert "doomed cannot start" in capsys.readouterr().err


def test_changed_code_restarts_the_children_that_reload(tmp_path: Path) -> None:
    # Given a supervisor watching a folder, with a reloading child and one that does not
    (tmp_path / "m.py").write_text("x = 1\n")
    supervisor = Supervisor(stop_timeout=5, code=CodeWatcher([tmp_path]))
    reloading = supervisor.add("reloading", SLEEPER, reload=True)
    steady = supervisor.add("steady", SLEEPER)
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    try:
        _until(lambda: reloading.pid is not None and steady.pid is not None)
        first, other = reloading.pid, steady.pid
        # When the code changes
        (tmp_path / "m.py").write_text("x = 2  # changed\n")
        os.utime(tmp_path / "m.py", (time.time() + 5, time.time() + 5))
        # Then the reloading child runs again as a new process, the other one untouched
        _until(lambda: reloading.pid not in (None, first) and reloading.process.poll() is None)  # type: ignore[union-attr]
        assert steady.pid == other and reloading.failures == 0
    finally:
        supervisor.stopping.set()
        runner.join(15)


def test_port_free_tells_a_held_port() -> None:
    # Given a port some program listens on, Then it is not free; once closed, it is
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert not port_free("127.0.0.1", port)
    assert port_free("127.0.0.1", port)
