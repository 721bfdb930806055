"""The Grafana dashboard queries only metrics the gateway exposes, under their exposed names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from infra.rabbitmq_admin import QueueDepth
from infra.settings import Settings
from infra.stats import JobTotals, LatencyTotals
from schemas.stats import BUCKETS, histogram
from services.gateway.metrics import Metrics, job_families, queue_families

DASHBOARD = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "conveyor.json"
NAME = re.compile(r"\bconveyor_[a-z_]+\b")


def exposed_names() -> set[str]:
    """Every sample name one scrape shows, the cluster's families filled with one queue's figures."""
    settings = Settings()
    metrics = Metrics(settings)
    metrics.observe("/v1/jobs", "POST", 202, 0.01)
    totals = JobTotals(
        engine="general", operation="echo", submitted=3, started=3, succeeded=2, failed=1, cancelled=0,
        retried=1, scheduled=0, waiting=0, queued=0, running=0, retrying=0,
    )  # fmt: skip
    latency = LatencyTotals(
        engine="general", run_hist=histogram([5.0, 200.0]), run_ms=205, wait_hist=[0] * BUCKETS, wait_ms=0
    )
    depths = {name: QueueDepth(name=name, ready=1) for name in ("general", "general.DQ", "general.XQ")}

    class Cluster:
        def collect(self) -> Any:
            return job_families([totals], [latency]) + queue_families(settings, depths)

    registry = CollectorRegistry()
    registry.register(Cluster())  # type: ignore[arg-type]
    text = (generate_latest(metrics.registry) + generate_latest(registry)).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def dashboard_names() -> set[str]:
    """Every metric name a panel or variable of the dashboard queries."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [variable["definition"] for variable in dashboard["templating"]["list"] if "definition" in variable]
    return {name for expr in exprs for name in NAME.findall(expr)}


def test_dashboard_queries_only_metrics_the_gateway_exposes() -> None:
    queried = dashboard_names()
    assert queried, "the dashboard queries no conveyor metric"
    assert queried <= exposed_names(), queried - exposed_names()


def test_dashboard_covers_throughput_success_latency_depths_dead_letters_and_http() -> None:
    queried = dashboard_names()
    assert {
        "conveyor_jobs_finished_total",
        "conveyor_job_run_seconds_bucket",
        "conveyor_queue_messages",
        "conveyor_http_request_duration_seconds_bucket",
    } <= queried
    text = DASHBOARD.read_text()
    assert 'state=\\"dead\\"' in text and "histogram_quantile(0.95" in text
