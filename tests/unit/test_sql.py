"""The named-statement loader and the migration files."""

from __future__ import annotations

import pytest

from infra.sql import QUERIES, Queries, migration_files, parse_queries


def test_named_blocks_are_parsed_without_comments() -> None:
    queries = Queries()
    parse_queries("-- name: one\n-- does one\n-- $1 x\nSELECT $1;\n\n-- name: two\nSELECT 2;\n", "f.sql", queries)
    assert queries == {"one": "SELECT $1", "two": "SELECT 2"}
    assert queries.one == "SELECT $1"


def test_duplicate_names_are_refused() -> None:
    queries = Queries()
    parse_queries("-- name: one\nSELECT 1;", "a.sql", queries)
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries("-- name: one\nSELECT 2;", "b.sql", queries)


def test_unknown_statement_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no SQL statement named"):
        _ = QUERIES.no_such_statement


def test_project_statements_load() -> None:
    assert {"insert_jobs", "claim_jobs", "finish_jobs", "heartbeat", "promote_due", "delete_outbox"} <= set(QUERIES)


def test_migrations_are_numbered_in_order() -> None:
    versions = [version for version, _ in migration_files()]
    assert versions == sorted(versions) and versions[0] == "0001"
