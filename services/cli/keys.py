"""`conveyor keys`: create, list and revoke API keys, straight in the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from infra import keys
from infra.db import connect
from infra.settings import Settings
from schemas.keys import Scope
from services.cli.help import Subcommands
from services.cli.help import command as _command


async def _with_db(settings: Settings, work):  # type: ignore[no-untyped-def]
    conn = await connect(settings.database_url, application_name="conveyor-cli")
    try:
        return await work(conn)
    finally:
        await conn.close()


def cmd_keys(settings: Settings, args: argparse.Namespace) -> int:
    """Create, list or revoke API keys."""
    if args.keys_command == "create":
        scopes = [Scope(s.strip()) for s in args.scopes.split(",") if s.strip()]
        view, secret = asyncio.run(
            _with_db(settings, lambda c: keys.create_key(c, args.tenant, scopes, name=args.name))
        )
        print(
            f"key {view.id} for tenant {view.tenant!r}, scopes {','.join(view.scopes)}; store it now, it is shown once:"
        )
        print(secret)
    elif args.keys_command == "list":
        views = asyncio.run(_with_db(settings, lambda c: keys.list_keys(c, args.tenant)))
        print(f"{'ID':<36}  {'TENANT':<20} {'PREFIX':<13} {'SCOPES':<30} {'STATE':<7}  NAME")
        for view in views:
            state = "revoked" if view.revoked_at else "live"
            granted = ",".join(view.scopes)
            print(f"{view.id}  {view.tenant:<20} {view.prefix + '…':<13} {granted:<30} {state:<7}  {view.name}")
        if not views:
            print("(no keys: create one with `conveyor keys create --tenant NAME`)")
    else:
        try:
            key_id = uuid.UUID(args.id)
        except ValueError:
            print(
                f"conveyor keys revoke: {args.id!r} is not a key id (the ID column of `conveyor keys list`)",
                file=sys.stderr,
            )
            return 2
        revoked = asyncio.run(_with_db(settings, lambda c: keys.revoke_key(c, key_id)))
        if revoked is None:
            print(f"no key {args.id}", file=sys.stderr)
            return 1
        print(f"revoked key {revoked.id} of tenant {revoked.tenant!r}")
    return 0


def add_keys_command(sub: Subcommands) -> None:
    """Add `keys create|list|revoke`."""
    ky = _command(
        sub, "keys", cmd_keys.__doc__ or "", "conveyor keys create --tenant acme --scopes jobs:read,jobs:write"
    )
    kys = ky.add_subparsers(dest="keys_command", required=True, metavar="{create,list,revoke}")
    create = _command(
        kys, "create", "Mint a key; the secret is the last line printed, shown once.",
        "conveyor keys create --tenant acme --scopes jobs:read,jobs:write,admin --name billing",
    )  # fmt: skip
    create.add_argument("--tenant", required=True, help="the tenant whose jobs the key reaches")
    create.add_argument("--scopes", default="jobs:read,jobs:write", help=f"comma-separated, of: {', '.join(Scope)}")
    create.add_argument("--name", default="", help="what the key is for")
    listing = _command(kys, "list", "List keys (never their secrets).", "conveyor keys list --tenant acme")
    listing.add_argument("--tenant", help="only this tenant's keys (default: all)")
    revoke = _command(kys, "revoke", "Revoke a key by its id.", "conveyor keys revoke 3f0c9a52-…")
    revoke.add_argument("id", help="the key's id (the ID column of `conveyor keys list`)")
