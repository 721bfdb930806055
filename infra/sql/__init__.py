"""Named SQL statements and numbered migrations, read from the `.sql` files beside this module.

A query file holds blocks that start with `-- name: <name>`, followed by comment lines that
describe the statement and its `$n` parameters, then the statement itself.
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries(dict[str, str]):
    """Statement name → SQL text; attribute access for readability (`QUERIES.claim_job`)."""

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no SQL statement named {name!r}") from None


def parse_queries(text: str, origin: str, into: Queries) -> None:
    """Add the named blocks of one file to `into`; a name seen twice is an error."""
    parts = NAME.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in into:
            raise ValueError(f"SQL statement {name!r} defined twice (again in {origin})")
        statement = "\n".join(line for line in body.strip().splitlines() if not line.lstrip().startswith("--"))
        if not statement.strip():
            raise ValueError(f"SQL statement {name!r} in {origin} is empty")
        into[name] = statement.strip().rstrip(";")


def load_queries(directory: Path = HERE / "queries") -> Queries:
    """Every named statement under `directory`."""
    queries = Queries()
    for path in sorted(directory.glob("*.sql")):
        parse_queries(path.read_text(), path.name, queries)
    return queries


def migration_files(directory: Path = HERE / "migrations") -> list[tuple[str, Path]]:
    """(version, path) of every migration, in order; versions are the 4-digit file prefixes."""
    found = sorted((path.name.split("_", 1)[0], path) for path in directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    versions = [version for version, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"two migrations share a version: {versions}")
    return found


QUERIES = load_queries()
