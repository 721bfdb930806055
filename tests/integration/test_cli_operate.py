"""`conveyor queues|dlq|stats|health|workers` against a Conveyor of this module's own (admin key)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from infra.db import drop_database
from infra.settings import Settings
from schemas.engines import QUEUES
from tests.integration.conftest import TEST_OVERRIDES
from tests.integration.test_cli import Cli
from tests.support.system import System, clone_database, wait_until


@pytest.fixture(scope="module")
async def operated(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """A running Conveyor (one worker for `general`) whose queues these tests may pause and limit."""
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    system = System.create(settings, url, tmp_path_factory.mktemp("cli-operate"), **TEST_OVERRIDES)
    try:
        system.start_all(queues=("general",))
        yield system
    finally:
        system.close()
        await drop_database(url)


@pytest.fixture
async def admin(operated: System, tmp_path: Path) -> Cli:
    """The CLI with an admin key of a tenant of this test's own."""
    return Cli(operated, await operated.api_key(f"ops-{secrets.token_hex(4)}"), tmp_path)


def test_cli_queues_list_pause_resume_limit(admin: Cli) -> None:
    # Given the queues listed
    listing = admin.ok("queues", "list").splitlines()
    assert listing[0].split()[:4] == ["QUEUE", "READY", "UNACKED", "CONSUMERS"]
    assert [line.split()[0] for line in listing[1:]] == list(QUEUES)
    # When general is paused, limited, then resumed
    paused = json.loads(admin.ok("queues", "pause", "general", "--json"))
    limited = admin.ok("queues", "limit", "general", "--concurrency", "2", "--backlog", "500")
    unlimited = json.loads(admin.ok("queues", "limit", "general", "--concurrency", "none", "--json"))
    resumed = json.loads(admin.ok("queues", "resume", "general", "--json"))
    # Then each answer shows the change
    assert (paused["paused"], resumed["paused"]) == (True, False)
    assert limited.splitlines() == ["queue            general", "max_concurrency  2", "max_backlog      500"]
    assert (unlimited["max_concurrency"], unlimited["max_backlog"]) == (None, 500)
    admin.ok("queues", "limit", "general", "--backlog", "none")
    assert json.loads(admin.ok("queues", "show", "general", "--json"))["max_backlog"] is None
    # And an unknown queue is one line
    unknown = admin("queues", "show", "nope")
    assert unknown.returncode == 1 and unknown.stderr.startswith("conveyor: 404 ")


def test_cli_health_and_workers(admin: Cli) -> None:
    # When health and workers are asked for
    health = json.loads(admin.ok("health", "--json"))
    workers = admin.ok("workers").splitlines()
    plain = admin("health")
    # Then the worker consuming general is listed, and health names PostgreSQL and RabbitMQ
    assert health["postgres"]["ok"] and health["rabbitmq"]["ok"]
    assert workers[0].split()[:4] == ["ID", "HOST", "PID", "QUEUES"]
    assert len(workers) == 2 and workers[1].split()[3] == "general"
    assert plain.stdout.splitlines()[0] == f"status     {health['status']}"
    assert plain.returncode == (0 if health["status"] == "ok" else 1)


def test_cli_dlq_list_replay_purge_and_stats(admin: Cli) -> None:
    # Given two jobs that failed for good
    failed = [
        admin.ok("jobs", "submit", "general", "flaky", "--params", '{"permanent": true}').strip() for _ in range(2)
    ]
    for job_id in failed:
        assert admin("jobs", "watch", job_id).returncode == 1

    def listed() -> list[str]:
        return [line.split()[0] for line in admin.ok("dlq", "list", "--queue", "general").splitlines()[1:]]

    wait_until(lambda: set(failed) <= set(listed()), timeout=20, message="the dead letters to be listed")
    # When one is replayed by id and the rest purged by filter
    replayed = admin.ok("dlq", "replay", failed[0])
    purged = json.loads(admin.ok("dlq", "purge", "--queue", "general", "--operation", "flaky", "--json"))
    # Then the replay ran it again, the purge took the rest off the list
    assert replayed.splitlines()[0] == "replayed        1"
    assert purged["purged"] >= 1
    assert failed[1] not in listed()
    both = admin("dlq", "replay", failed[0], "--queue", "general")
    assert both.returncode == 1 and both.stderr.startswith("conveyor: name dead letters by id or by filters")
    # And stats per operation count the failures
    stats = json.loads(admin.ok("stats", "--window", "5m", "--by", "operation", "--json"))
    flaky = next(item for item in stats["items"] if item["group"] == "general.flaky")
    assert flaky["failed"] >= 2
    table = admin.ok("stats", "--window", "5m", "--by", "operation").splitlines()
    assert table[0].split()[:3] == ["OPERATION", "SUBMITTED", "SUCCEEDED"]
