"""How every `conveyor` command explains itself: a summary, its defaults, an example."""

from __future__ import annotations

import argparse
from typing import TypeAlias

#: What `add_subparsers` returns, as annotations name it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows the defaults that say something, and keeps the examples' lines as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        silent = action.default in (None, False, "", argparse.SUPPRESS) or "default" in text
        if silent or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def command(sub: Subcommands, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line summary, its description and an example."""
    return sub.add_parser(
        name, help=summary, description=summary, epilog=f"example:\n  {example}", formatter_class=HelpFormatter
    )
