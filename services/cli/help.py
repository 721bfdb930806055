"""How every `conveyor` command explains itself: a summary, its defaults, an example."""

from __future__ import annotations

import argparse
from typing import TypeAlias

#: What `add_subparsers` returns, as annotations name it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the examples' layout and shows each option's default (when it has one)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        plain = (
            isinstance(default, str | int | float)
            and not isinstance(default, bool)
            and default not in ("", argparse.SUPPRESS)
        )
        shown = (plain or (isinstance(default, list) and bool(default))) and "%(default)" not in text
        if shown and (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)):
            text += " (default: %(default)s)"
        return text


def command(sub: Subcommands, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary, its description and an example."""
    return sub.add_parser(
        name, help=summary, description=summary, epilog=f"example:\n  {example}", formatter_class=HelpFormatter
    )
