"""`conveyor login`: check a gateway and key, then save them as a profile (mode 0600)."""

from __future__ import annotations

import os
from typing import Any

from services.cli.common import Context, command
from services.cli.profiles import DEFAULT_PROFILE, DEFAULT_URL, Profile, ProfileError, config_path, save
from services.client import Client


def add_commands(sub: Any) -> None:
    """The `login` command."""
    command(
        sub, "login", cmd_login, "check a gateway and an API key, then save them for the commands that follow",
        "conveyor login --url http://127.0.0.1:8000 --key cvk_... --profile dev",
    )  # fmt: skip


def cmd_login(ctx: Context) -> int:
    """Check the key against the gateway (a listing it may read), then save the profile."""
    args = ctx.args
    url = (args.url or os.environ.get("CONVEYOR_URL") or DEFAULT_URL).rstrip("/")
    key = args.key or os.environ.get("CONVEYOR_API_KEY")
    if not key:
        raise ProfileError("give the API key with --key (or CONVEYOR_API_KEY)")
    with Client(url, key) as client:
        client.list_jobs(limit=1)
    name = args.profile or DEFAULT_PROFILE
    path = config_path()
    save(path, name, Profile(url=url, key=key))
    ctx.out.answer(
        {"profile": name, "url": url, "path": str(path)}, f"logged in to {url} as profile {name!r} (saved in {path})"
    )
    return 0
