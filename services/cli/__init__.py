"""`conveyor`: run the gateway, workers and scheduler; migrate; manage API keys; run it all —
and, as a client of a running gateway, submit, follow and steer jobs, workflows and queues."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import cast

import msgspec

from services.cli import completion, dlq, jobs, login, ops, queues, schedules, subscriptions, tail, workflows
from services.cli.common import Context, Parser, UsageError
from services.cli.help import HelpFormatter
from services.cli.profiles import ProfileError
from services.cli.server import SERVER_COMMANDS, add_server_commands, run_server_command
from services.client import ConveyorError, ConveyorUnreachable, WaitTimeout

CLIENT_GROUPS = (login, jobs, workflows, tail, queues, dlq, ops, schedules, subscriptions, completion)


def package_version() -> str:
    """The installed package's version."""
    try:
        return version("conveyor")
    except PackageNotFoundError:
        return "unknown"


class VersionAction(argparse.Action):
    """`--version`: the installed package's version (read only when asked, it costs a scan)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"conveyor {package_version()}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    """The command line."""
    root = Parser(prog="conveyor", description=__doc__, formatter_class=HelpFormatter)
    root.add_argument("--version", action=VersionAction, help="print the installed version and exit")
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        root.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser),
    )
    add_server_commands(sub)
    for module in CLIENT_GROUPS:
        module.add_commands(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `conveyor` command."""
    args = parser().parse_args(argv)
    if args.command in SERVER_COMMANDS:
        return run_server_command(args)
    return run_client_command(args)


def run_client_command(args: argparse.Namespace) -> int:
    """Run a client command: an API error, an unreachable gateway or bad input is one line on
    standard error and exit code 1, never a traceback."""
    context = Context(args)
    try:
        return int(args.handler(context))
    except ConveyorError as exc:
        return fail(exc.line())
    except ConveyorUnreachable as exc:
        return fail(str(exc))
    except WaitTimeout as exc:
        return fail(str(exc))
    except (ProfileError, UsageError, msgspec.ValidationError, OSError) as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    finally:
        context.close()


def fail(message: str) -> int:
    """Print `conveyor: <message>` on standard error; exit code 1."""
    print(f"conveyor: {message}", file=sys.stderr)
    return 1
