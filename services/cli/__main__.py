"""`python -m services.cli`: the `conveyor` command."""

from __future__ import annotations

import contextlib

from services.cli import main

with contextlib.suppress(BrokenPipeError):
    raise SystemExit(main())
