"""GET /metrics: Prometheus figures of the whole cluster from PostgreSQL and RabbitMQ, and the
gateway's own HTTP figures; no key; 404 when disabled; a source that is down is left out."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from msgspec.structs import replace
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from infra.db import create_pool
from schemas.keys import Scope
from services.gateway.metrics import Metrics
from tests.integration.conftest import MakeSystem
from tests.support.api import submit, wait_for_status
from tests.support.system import System, base_settings, eventually


async def scrape(system: System) -> list[Sample]:
    """Every sample of one scrape, without an API key."""
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def value(samples: Iterable[Sample], name: str, **labels: str) -> float | None:
    """The value of the sample with this name and these labels (None if there is none)."""
    found = [s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found) if found else None


async def test_metrics_count_what_ran_across_the_cluster(make_system: MakeSystem) -> None:
    # Given jobs that succeeded, failed (dead-lettered), were retried, cancelled, and one scheduled
    system = await make_system()
    system.start_all()
    async with system.client(await system.api_key("metrics", [Scope.JOBS_READ, Scope.JOBS_WRITE])) as http:
        done = [await submit(http, "echo", {"value": i}) for i in range(3)]
        done.append(await submit(http, "flaky", {"fail_times": 1}, retry_backoff_seconds=0.05))
        failing = await submit(http, "flaky", {"fail_times": 1, "permanent": True})
        cancelled = await submit(http, "echo", {"value": 0}, delay_seconds=3600)
        await submit(http, "echo", {"value": 0}, delay_seconds=3600)
        assert (await http.post(f"/v1/jobs/{cancelled['id']}/cancel")).status_code == 200
        for job in done:
            await wait_for_status(http, job["id"], "succeeded")
        await wait_for_status(http, failing["id"], "failed")
        await http.get(f"/v1/jobs/{failing['id']}")

    # When Prometheus scrapes (RabbitMQ's counts lag by its statistics interval)
    async def dead_lettered() -> list[Sample] | None:
        samples = await scrape(system)
        return samples if value(samples, "conveyor_queue_messages", queue="general", state="dead") == 1 else None

    samples = await eventually(dead_lettered, timeout=30, interval=1.0, message="the dead letter in the metrics")

    # Then the job counters and histograms count exactly what ran
    general = {"queue": "general"}
    assert value(samples, "conveyor_jobs_submitted_total", operation="echo", **general) == 5
    assert value(samples, "conveyor_jobs_submitted_total", operation="flaky", **general) == 2
    assert value(samples, "conveyor_jobs_finished_total", operation="echo", status="succeeded", **general) == 3
    assert value(samples, "conveyor_jobs_finished_total", operation="echo", status="cancelled", **general) == 1
    assert value(samples, "conveyor_jobs_finished_total", operation="flaky", status="succeeded", **general) == 1
    assert value(samples, "conveyor_jobs_finished_total", operation="flaky", status="failed", **general) == 1
    assert value(samples, "conveyor_jobs_retried_total", operation="flaky", **general) == 1
    assert value(samples, "conveyor_job_run_seconds_count", **general) == 5
    assert value(samples, "conveyor_job_wait_seconds_count", **general) == 6
    assert value(samples, "conveyor_job_run_seconds_bucket", le="+Inf", **general) == 5
    assert value(samples, "conveyor_queue_jobs", status="scheduled", **general) == 1
    assert value(samples, "conveyor_queue_jobs", status="running", **general) == 0
    assert value(samples, "conveyor_queue_messages", state="ready", **general) == 0
    assert value(samples, "conveyor_scrape_up", source="postgres") == 1
    assert value(samples, "conveyor_scrape_up", source="rabbitmq") == 1
    # one worker process of 4 threads serves general (the worker registry), none image_generation
    assert value(samples, "conveyor_workers", **general) == 1
    assert value(samples, "conveyor_worker_threads", **general) == 4
    assert value(samples, "conveyor_workers", queue="image_generation") == 0

    # And HTTP requests are counted by route template, never by raw path
    routes = {s.labels["route"] for s in samples if s.name == "conveyor_http_requests_total"}
    assert "/v1/jobs" in routes and "/v1/jobs/{job_id}" in routes
    assert not any(failing["id"] in route for route in routes)
    assert value(samples, "conveyor_http_requests_total", route="/v1/jobs", method="POST", status="202") == 7
    assert value(samples, "conveyor_http_request_duration_seconds_count", route="/v1/jobs", method="POST") == 7

    # And counters never go down from one scrape to the next
    again = await scrape(system)
    for sample in samples:
        if sample.name.endswith("_total") and sample.name.startswith("conveyor_jobs"):
            assert value(again, sample.name, **sample.labels) >= sample.value


async def test_metrics_scrape_answers_without_an_unreachable_source(make_system: MakeSystem) -> None:
    # Given a gateway whose RabbitMQ management API does not answer
    system = await make_system(rabbitmq_management_url="http://127.0.0.1:9")
    system.start_gateway()

    # When Prometheus scrapes
    samples = await scrape(system)

    # Then PostgreSQL's figures are there, RabbitMQ's are left out and the failure counted
    assert value(samples, "conveyor_scrape_up", source="rabbitmq") == 0
    assert value(samples, "conveyor_scrape_errors_total", source="rabbitmq") >= 1
    assert value(samples, "conveyor_scrape_up", source="postgres") == 1
    assert not any(s.name == "conveyor_queue_messages" for s in samples)


async def test_metrics_disabled_answers_404(make_system: MakeSystem) -> None:
    # Given a gateway with metrics off
    system = await make_system(metrics_enabled=False)
    system.start_gateway()

    # When Prometheus scrapes, Then there is nothing there
    async with httpx.AsyncClient(base_url=system.base_url, timeout=10) as http:
        assert (await http.get("/metrics")).status_code == 404


async def test_metrics_collector_leaves_out_postgres_when_it_does_not_answer(database_url: str) -> None:
    # Given a collector whose database pool is gone (closed, as after losing PostgreSQL)
    settings = replace(base_settings(), database_url=database_url, rabbitmq_management_url="http://127.0.0.1:9")
    pool = await create_pool(settings, application_name="conveyor-test")
    await pool.close()
    metrics = Metrics(settings)

    # When it is read for a scrape
    await metrics.cluster.refresh(pool)
    text = generate_latest(metrics.registry).decode()

    # Then the scrape answers, without the job families, and says which sources were down
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert value(samples, "conveyor_scrape_up", source="postgres") == 0
    assert value(samples, "conveyor_scrape_errors_total", source="postgres") == 1
    assert not any(s.name.startswith("conveyor_jobs_") for s in samples)
