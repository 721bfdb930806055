"""compose.yaml runs what `conveyor up` runs: every queue has workers, and start order is by health."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from schemas.engines import QUEUES

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def test_every_queue_is_consumed_by_exactly_one_worker_group() -> None:
    consumed: list[str] = []
    for name, service in SERVICES.items():
        if name.startswith("worker-"):
            command = service["command"]
            after = command[command.index("--queues") + 1 :]
            consumed += itertools.takewhile(lambda arg: not arg.startswith("--"), after)
            assert service["deploy"]["replicas"] >= 1
    assert sorted(consumed) == sorted(QUEUES)


def test_processes_wait_for_healthy_services_and_the_migration() -> None:
    assert {"rabbitmq", "postgres", "migrate", "gateway", "scheduler"} <= set(SERVICES)
    for name in ("rabbitmq", "postgres", "gateway"):
        assert "healthcheck" in SERVICES[name]
    for name, service in SERVICES.items():
        if name in ("gateway", "scheduler") or name.startswith("worker-"):
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
            assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert SERVICES["rabbitmq"]["image"].endswith("-management")
