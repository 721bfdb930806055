"""How client commands print: rich tables and colours on a terminal, plain text when piped, JSON with --json."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

Mode = Literal["rich", "plain", "json"]
STATUS_STYLES = {
    "succeeded": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "running": "cyan",
    "retrying": "magenta",
    "queued": "blue",
    "waiting": "dim",
    "scheduled": "dim",
    "ok": "green",
    "degraded": "yellow",
    "down": "bold red",
}


def choose_mode(json_wanted: bool, stream: TextIO) -> Mode:
    """--json wins; else rich on a terminal, plain text otherwise."""
    if json_wanted:
        return "json"
    return "rich" if stream.isatty() else "plain"


def to_json(value: Any) -> str:
    """A Struct (or list, dict) as JSON text, as the API sends it."""
    return msgspec.json.encode(value).decode()


def cell(value: Any) -> str:
    """A value as the text of a table cell."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, list | tuple):
        return ",".join(cell(item) for item in value) or "-"
    if isinstance(value, dict | msgspec.Struct):
        return to_json(value)
    return str(value)


class Output:
    """Where a command's answer goes, in the mode it was asked for."""

    def __init__(self, mode: Mode, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream or sys.stdout
        self.console = Console(file=self.stream, highlight=False, soft_wrap=mode != "rich")

    @property
    def rich(self) -> bool:
        """Whether output is for a person at a terminal."""
        return self.mode == "rich"

    def json(self, value: Any) -> None:
        """Print a value as one JSON document."""
        self.stream.write(to_json(value) + "\n")

    def answer(self, value: Any, text: str, style: str | None = None) -> None:
        """A command's answer: `value` as JSON for --json, else the line `text`."""
        if self.mode == "json":
            self.json(value)
        else:
            self.line(text, style)

    def line(self, text: str, style: str | None = None) -> None:
        """Print a line (styled on a terminal)."""
        if self.rich:
            self.console.print(Text(text, style=style or ""))
        else:
            self.stream.write(text + "\n")
            self.stream.flush()  # a watch or tail read through a pipe shows each line as it comes

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
        """Print rows under column names: a rich table, or aligned plain columns."""
        texts = [[cell(value) for value in row] for row in rows]
        if not self.rich:
            self.stream.write(plain_table(columns, texts))
            return
        table = Table(title=title, title_justify="left", header_style="bold", box=None, padding=(0, 2, 0, 0))
        for index, name in enumerate(columns):
            # ids are for copying: never cut or wrapped (the other columns give way)
            widest = max((len(row[index]) for row in texts), default=0)
            keep = name == "id" or name.endswith(" id")
            table.add_column(name, no_wrap=keep, min_width=widest if keep else None)
        for row in texts:
            table.add_row(*(styled(text) for text in row))
        self.console.print(table)

    def fields(self, pairs: Sequence[tuple[str, Any]], *, title: str | None = None) -> None:
        """Print name/value pairs, one a line."""
        width = max((len(name) for name, _ in pairs), default=0)
        if title:
            self.line(title, "bold")
        for name, value in pairs:
            text = cell(value)
            if self.rich:
                self.console.print(Text.assemble((f"{name:<{width}}  ", "bold"), styled(text)))
            else:
                self.stream.write(f"{name:<{width}}  {text}\n")


def styled(text: str) -> Text:
    """A cell's text, coloured when it is (or starts with) a status."""
    return Text(text, style=STATUS_STYLES.get(text.split(" ", 1)[0], ""))


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned with two spaces, upper-case headers; the last column is not padded."""
    header = [name.upper() for name in columns]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(columns))]
    lines = []
    for row in [header, *rows]:
        padded = [text.ljust(widths[i]) for i, text in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines) + "\n"
