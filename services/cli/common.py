"""What every client command shares: its parser's look (defaults, an example), the options that
say where the gateway is, the client and output it runs with, reading JSON arguments."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from services.cli.help import HelpFormatter
from services.cli.output import Output, choose_mode
from services.cli.profiles import resolve
from services.client import Client

Handler = Callable[["Context"], int]


class UsageError(Exception):
    """Arguments that do not go together; the message says how to give them."""


class Parser(argparse.ArgumentParser):
    """An argument parser with Conveyor's help formatter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def connection_options() -> argparse.ArgumentParser:
    """The options of every client command: where the gateway is, which key, --json."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection")
    group.add_argument("--url", help="the gateway (else CONVEYOR_URL, else the profile's, else http://127.0.0.1:8000)")
    group.add_argument("--key", help="the API key (else CONVEYOR_API_KEY, else the profile's)")
    group.add_argument("--profile", help="a profile saved by `conveyor login` (else the last one saved)")
    options.add_argument("--json", action="store_true", help="print the API's JSON, for scripts")
    return options


CONNECTION = connection_options()


def group(sub: Any, name: str, help: str, example: str) -> Any:
    """A command group (`conveyor jobs …`): its subcommands' action."""
    epilog = f"example:\n  {example}\n\n`conveyor {name} COMMAND --help` tells more of each command."
    parser = sub.add_parser(name, help=sentence(help), description=sentence(help), epilog=epilog)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def command(sub: Any, name: str, handler: Handler, help: str, example: str) -> argparse.ArgumentParser:
    """A client command: its help, an example in its epilog, the connection options, its handler."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=sentence(help), description=sentence(help), epilog=f"example:\n  {example}", parents=[CONNECTION]
    )
    parser.set_defaults(handler=handler)
    return parser


def sentence(text: str) -> str:
    """A command's summary as the server commands write theirs: capitalised, with a full stop."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


@dataclass
class Context:
    """What a client command runs with: its arguments, its client and its output."""

    args: argparse.Namespace
    out: Output = field(init=False)

    def __post_init__(self) -> None:
        self.out = Output(choose_mode(getattr(self.args, "json", False), sys.stdout))

    @cached_property
    def client(self) -> Client:
        """The client of the gateway the options name."""
        target = resolve(self.args.url, self.args.key, self.args.profile)
        return Client(target.url, target.key)

    def close(self) -> None:
        """Close the client's connections, if it was made."""
        if "client" in self.__dict__:
            self.client.close()


def json_argument(text: str) -> Any:
    """A JSON value given inline, or `@file` (`@-`: standard input)."""
    if text.startswith("@"):
        name = text[1:]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text()
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {name}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc


def json_object(text: str) -> dict[str, Any]:
    """A JSON object given inline or as `@file`."""
    value = json_argument(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value
