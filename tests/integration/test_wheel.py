"""The installed package (a wheel, as the Docker image installs it) carries every file it reads
(building it fetches the build backend from the package index)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.system import ROOT


def test_the_wheel_holds_migrations_queries_templates_and_static_files(tmp_path: Path) -> None:
    # Given the project built as a wheel (`pip install .` in the image builds the same)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("conveyor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # Then every data file of the source tree is in it
    wanted = [
        path.relative_to(ROOT).as_posix()
        for folder in ("infra/sql", "services/gateway/templates", "services/gateway/static")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert wanted and [name for name in wanted if name not in names] == []
