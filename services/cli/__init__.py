"""`conveyor`: run the gateway, workers and scheduler; migrate; manage API keys; run it all."""

from __future__ import annotations

import argparse

from services.cli.server import SERVER_COMMANDS, add_server_commands, run_server_command


def parser() -> argparse.ArgumentParser:
    """The command line."""
    root = argparse.ArgumentParser(prog="conveyor", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    add_server_commands(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `conveyor` command."""
    args = parser().parse_args(argv)
    if args.command in SERVER_COMMANDS:
        return run_server_command(args)
    raise AssertionError(f"no handler for {args.command}")
