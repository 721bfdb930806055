"""/metrics: Prometheus text format, no API key, when `metrics_enabled` (404 otherwise).

Two kinds of figures, in a registry of the app's own:
- this gateway's HTTP requests, by route template (not the raw path), method and status;
- the whole cluster's jobs and queues, whatever the number of workers and gateways: job
  counters and latency histograms from the cumulative totals the jobs triggers keep in
  PostgreSQL (infra/stats.py), job gauges from the same table, and message counts from
  RabbitMQ's management API. They are read at scrape time and kept for CACHE_SECONDS, so
  many scrapers cost one query a second or so. A source that does not answer is left out of
  the scrape, counted in `conveyor_scrape_errors_total` and shown by `conveyor_scrape_up`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg
import httpx
import structlog
from dramatiq.common import dq_name, xq_name
from litestar import Controller, Request, Response, get
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from infra import stats, workers
from infra.rabbitmq_admin import QueueDepth, management_client, queue_depths
from infra.settings import Settings
from schemas.engines import QUEUES
from schemas.operations import WorkerView
from schemas.stats import cumulative_seconds
from services.gateway.deps import Resources

log = structlog.get_logger("conveyor.gateway")

CACHE_SECONDS = 1.5
SOURCE_TIMEOUT = 2.0
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_STATUSES = ("queued", "running", "scheduled", "retrying")
OUTCOMES = ("succeeded", "failed", "cancelled")


class ClusterCollector:
    """Cluster-wide job and queue families, refreshed (at most every CACHE_SECONDS) before a scrape."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._families: list[Metric] = []
        self._fetched = -math.inf
        self._lock = asyncio.Lock()
        self._errors = {"postgres": 0, "rabbitmq": 0}
        self._up = {"postgres": 0, "rabbitmq": 0}
        self._client: httpx.AsyncClient | None = None

    async def refresh(self, pool: asyncpg.Pool) -> None:
        """Read PostgreSQL and RabbitMQ unless the last reading is fresh enough."""
        async with self._lock:
            if time.monotonic() - self._fetched < CACHE_SECONDS:
                return
            families: list[Metric] = []
            for source, read in (("postgres", self._postgres(pool)), ("rabbitmq", self._rabbitmq())):
                try:
                    families += await asyncio.wait_for(read, SOURCE_TIMEOUT)
                    self._up[source] = 1
                except Exception as exc:  # whatever a source does, the scrape answers without it
                    log.warning("metrics_source_unavailable", source=source, error=str(exc) or type(exc).__name__)
                    self._errors[source] += 1
                    self._up[source] = 0
            self._families = families
            self._fetched = time.monotonic()

    async def close(self) -> None:
        """Close the management API client."""
        if self._client is not None:
            await self._client.aclose()

    def collect(self) -> Iterable[Metric]:
        """The families of the last reading, and how the sources answered."""
        yield from self._families
        errors = CounterMetricFamily("conveyor_scrape_errors", "Readings of a source that failed", labels=["source"])
        up = GaugeMetricFamily("conveyor_scrape_up", "Whether a source answered the last reading", labels=["source"])
        for source in sorted(self._errors):
            errors.add_metric([source], self._errors[source])
            up.add_metric([source], self._up[source])
        yield errors
        yield up

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families depend on what the sources answer."""
        return []

    async def _postgres(self, pool: asyncpg.Pool) -> list[Metric]:
        live = await workers.live_workers(pool, lease_seconds=self.settings.lease_seconds)
        return [
            *job_families(await stats.job_totals(pool), await stats.latency_totals(pool)),
            *worker_families(live),
        ]

    async def _rabbitmq(self) -> list[Metric]:
        if self._client is None:
            self._client = management_client(self.settings, timeout=SOURCE_TIMEOUT)
        return queue_families(self.settings, await queue_depths(self._client, self.settings))


def job_families(totals: Sequence[stats.JobTotals], latency: Sequence[stats.LatencyTotals]) -> list[Metric]:
    """The job counters, gauges and latency histograms of the whole cluster."""
    labels = ["queue", "operation"]
    submitted = CounterMetricFamily("conveyor_jobs_submitted", "Jobs submitted", labels=labels)
    started = CounterMetricFamily("conveyor_jobs_started", "Attempts started", labels=labels)
    finished = CounterMetricFamily("conveyor_jobs_finished", "Jobs finished, by outcome", labels=[*labels, "status"])
    retried = CounterMetricFamily("conveyor_jobs_retried", "Attempts to be retried", labels=labels)
    jobs = GaugeMetricFamily(
        "conveyor_queue_jobs", "Jobs in a waiting or running status now", labels=["queue", "status"]
    )
    gauges: dict[tuple[str, str], int] = {}
    for t in totals:
        submitted.add_metric([t.engine, t.operation], t.submitted)
        started.add_metric([t.engine, t.operation], t.started)
        retried.add_metric([t.engine, t.operation], t.retried)
        for status in OUTCOMES:
            finished.add_metric([t.engine, t.operation, status], getattr(t, status))
        for status in JOB_STATUSES:
            gauges[t.engine, status] = gauges.get((t.engine, status), 0) + getattr(t, status)
    for (queue, status), count in sorted(gauges.items()):
        jobs.add_metric([queue, status], count)
    run = HistogramMetricFamily("conveyor_job_run_seconds", "Run time of finished jobs", labels=["queue"])
    wait = HistogramMetricFamily("conveyor_job_wait_seconds", "Wait from queued to running", labels=["queue"])
    for row in latency:
        run.add_metric([row.engine], _buckets(row.run_hist), row.run_ms / 1000)
        wait.add_metric([row.engine], _buckets(row.wait_hist), row.wait_ms / 1000)
    return [submitted, started, finished, retried, run, wait, jobs]


def worker_families(live: Sequence[WorkerView]) -> list[Metric]:
    """Live worker processes, and their threads, per queue (from the worker registry)."""
    processes = GaugeMetricFamily("conveyor_workers", "Live worker processes consuming a queue", labels=["queue"])
    threads = GaugeMetricFamily("conveyor_worker_threads", "Worker threads consuming a queue", labels=["queue"])
    per_process, per_thread = workers.processes_per_queue(live), workers.threads_per_queue(live)
    for queue in QUEUES:
        processes.add_metric([queue], per_process.get(queue, 0))
        threads.add_metric([queue], per_thread.get(queue, 0))
    return [processes, threads]


def queue_families(settings: Settings, depths: Mapping[str, QueueDepth]) -> list[Metric]:
    """Messages (ready, unacked, dead-lettered) and consumers of each engine's queue; a queue's
    delay queue (.DQ) counts with it."""
    messages = GaugeMetricFamily(
        "conveyor_queue_messages", "Messages in RabbitMQ (dead: in the dead-letter queue)", labels=["queue", "state"]
    )
    consumers = GaugeMetricFamily("conveyor_queue_consumers", "Consumers of a queue", labels=["queue"])
    empty = QueueDepth(name="")
    for engine in QUEUES:
        name = settings.queue_name(engine)
        if name not in depths:
            continue  # not declared yet
        work, delayed, dead = depths[name], depths.get(dq_name(name), empty), depths.get(xq_name(name), empty)
        messages.add_metric([engine, "ready"], work.ready + delayed.ready)
        messages.add_metric([engine, "unacked"], work.unacked + delayed.unacked)
        messages.add_metric([engine, "dead"], dead.ready)
        consumers.add_metric([engine], work.consumers)
    return [messages, consumers]


def _buckets(hist: Sequence[int]) -> list[tuple[str, float]]:
    return [("+Inf" if math.isinf(le) else repr(le), count) for le, count in cumulative_seconds(hist)]


class Metrics:
    """The app's registry: its HTTP figures and the cluster collector."""

    def __init__(self, settings: Settings) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "conveyor_http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "conveyor_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.cluster = ClusterCollector(settings)
        self.registry.register(self.cluster)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, method, str(status)).inc()
        self.duration.labels(route, method).observe(seconds)


class HttpMetrics(ASGIMiddleware):
    """Counts and times every request by its route template (`/v1/jobs/{job_id:uuid}`)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Time the request; record route, method and status once it is answered."""
        started = time.perf_counter()
        status = 500

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, send_seen)
        finally:
            route = str(scope.get("path_template") or "unmatched")
            method = str(scope.get("method", ""))
            self.metrics.observe(route, method, status, time.perf_counter() - started)


class MetricsController(Controller):
    """Prometheus scrapes; no API key."""

    tags = ["metrics"]

    @get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(self, request: Request[Any, Any, Any], resources: Resources) -> Response[bytes]:
        """The cluster's job and queue figures and this gateway's HTTP figures."""
        metrics: Metrics = request.app.state.metrics
        await metrics.cluster.refresh(resources.pool)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
