"""GET /v1/stats and /v1/stats/timeseries: counts, rates and percentiles from the rollups the
jobs triggers keep, scoped to the caller's tenant (an admin's: any tenant, or all)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from schemas.keys import Scope
from schemas.stats import PERCENTILE_ERROR
from tests.support.api import submit, wait_for_status
from tests.support.system import System

MEMBER = [Scope.JOBS_READ, Scope.JOBS_WRITE]


@pytest.fixture
async def member(shared_system: System) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A tenant of this test's own and a client with a non-admin key of it."""
    tenant = f"stats-{secrets.token_hex(4)}"
    async with shared_system.client(await shared_system.api_key(tenant, MEMBER)) as http:
        yield tenant, http


async def run_mix(http: httpx.AsyncClient) -> None:
    """3 echo jobs succeed; 4 sleeps of 0.2 s succeed and a long one is cancelled while it runs;
    a flaky job fails once (retried) then succeeds, another fails for good; a scheduled echo is
    cancelled before it runs and another stays scheduled (the backlog)."""
    done = [await submit(http, "echo", {"value": i}) for i in range(3)]
    done += [await submit(http, "sleep", {"seconds": 0.2}) for _ in range(4)]
    done.append(await submit(http, "flaky", {"fail_times": 1}, retry_backoff_seconds=0.05))
    failing = await submit(http, "flaky", {"fail_times": 1, "permanent": True})
    long = await submit(http, "sleep", {"seconds": 30})
    early = await submit(http, "echo", {"value": "later"}, delay_seconds=3600)
    await submit(http, "echo", {"value": "later"}, delay_seconds=3600)
    await wait_for_status(http, long["id"], "running")
    assert (await http.post(f"/v1/jobs/{long['id']}/cancel")).status_code == 202
    assert (await http.post(f"/v1/jobs/{early['id']}/cancel")).status_code == 200
    for job in done:
        await wait_for_status(http, job["id"], "succeeded")
    await wait_for_status(http, failing["id"], "failed")
    await wait_for_status(http, long["id"], "cancelled")


async def stats(http: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await http.get("/v1/stats", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_stats_count_every_outcome_per_queue_operation_and_tenant(
    member: tuple[str, httpx.AsyncClient],
) -> None:
    # Given a tenant whose jobs succeeded, failed, were retried and cancelled
    tenant, http = member
    await run_mix(http)

    # When it asks for the last hour per queue
    body = await stats(http, window="1h", group_by="queue")

    # Then one row counts everything, with rates and percentiles
    assert body["window"] == "1h" and body["group_by"] == "queue"
    [general] = body["items"]
    assert general["group"] == "general" and general["queue"] == "general"
    counts = {k: general[k] for k in ("submitted", "started", "succeeded", "failed", "cancelled", "retried")}
    assert counts == {"submitted": 12, "started": 11, "succeeded": 8, "failed": 1, "cancelled": 2, "retried": 1}
    assert general["success_rate"] == pytest.approx(8 / 9)
    assert 11 / 61 - 1e-3 <= general["throughput_per_minute"] <= 11 / 60 + 1e-3
    assert general["backlog"] == 1
    assert general["wait_time_ms"]["p50"] <= general["wait_time_ms"]["p95"] <= general["wait_time_ms"]["p99"]

    # When it groups per operation
    per_op = {item["group"]: item for item in (await stats(http, group_by="operation"))["items"]}

    # Then each operation has its own counts, and sleeping 0.2 s shows as a ~200 ms p50
    assert set(per_op) == {"general.echo", "general.sleep", "general.flaky"}
    echo, sleep, flaky = per_op["general.echo"], per_op["general.sleep"], per_op["general.flaky"]
    assert (echo["submitted"], echo["succeeded"], echo["cancelled"], echo["backlog"]) == (5, 3, 1, 1)
    assert echo["success_rate"] == 1.0
    assert (sleep["submitted"], sleep["succeeded"], sleep["cancelled"], sleep["failed"]) == (5, 4, 1, 0)
    assert (flaky["started"], flaky["succeeded"], flaky["failed"], flaky["retried"]) == (3, 1, 1, 1)
    assert flaky["success_rate"] == 0.5
    run = sleep["run_time_ms"]
    assert 200 / (1 + PERCENTILE_ERROR) <= run["p50"] <= 2000, run
    assert run["p50"] <= run["p95"] <= run["p99"]
    assert echo["run_time_ms"]["p50"] < run["p50"]

    # When it groups per tenant, it sees itself alone
    [mine] = (await stats(http, group_by="tenant", window="7d"))["items"]
    assert mine["tenant"] == tenant and mine["submitted"] == 12


async def test_stats_admin_sees_every_tenant_or_the_one_named(shared_system: System) -> None:
    # Given two tenants that ran jobs, and an admin key of a third
    tenants = [f"team-{secrets.token_hex(3)}" for _ in range(2)]
    for count, tenant in enumerate(tenants, start=1):
        async with shared_system.client(await shared_system.api_key(tenant, MEMBER)) as http:
            jobs = [await submit(http, "echo", {"value": i}) for i in range(count)]
            for job in jobs:
                await wait_for_status(http, job["id"], "succeeded")
    admin_key = await shared_system.api_key(f"ops-{secrets.token_hex(3)}", [Scope.ADMIN])
    async with shared_system.client(admin_key) as admin:
        # When the admin asks for team analytics
        items = {item["group"]: item for item in (await stats(admin, group_by="tenant", window="7d"))["items"]}

        # Then every tenant is a row
        assert [items[t]["succeeded"] for t in tenants] == [1, 2]

        # And naming one tenant reads that tenant only
        [only] = (await stats(admin, group_by="tenant", tenant=tenants[1]))["items"]
        assert only["tenant"] == tenants[1] and only["submitted"] == 2


async def test_stats_refuse_other_tenants_and_bad_parameters(member: tuple[str, httpx.AsyncClient]) -> None:
    # Given a non-admin key
    tenant, http = member

    # When it names another tenant, or its own
    other = await http.get("/v1/stats", params={"tenant": "someone-else"})
    own = await http.get("/v1/stats", params={"tenant": tenant})

    # Then the first is forbidden, the second answered
    assert other.status_code == 403 and own.status_code == 200

    # And bad windows, groupings and steps are 422 naming the parameter
    for path, params, field in [
        ("/v1/stats", {"window": "2h"}, "window"),
        ("/v1/stats", {"group_by": "engine"}, "group_by"),
        ("/v1/stats/timeseries", {"window": "1h", "step": "2m"}, "step"),
        ("/v1/stats/timeseries", {"window": "24h", "step": "1m"}, "step"),  # 1,440 buckets
        ("/v1/stats/timeseries", {"window": "5m", "step": "1h"}, "step"),  # longer than the window
        ("/v1/stats/timeseries", {"window": "1w"}, "window"),
    ]:
        response = await http.get(path, params=params)
        assert response.status_code == 422, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_stats_timeseries_buckets_every_step_with_zeros_between(member: tuple[str, httpx.AsyncClient]) -> None:
    # Given a tenant whose jobs succeeded, failed, were retried and cancelled
    _, http = member
    await run_mix(http)

    # When it asks for the last hour minute by minute
    response = await http.get("/v1/stats/timeseries", params={"window": "1h", "step": "1m"})

    # Then there are 60 consecutive buckets, empty ones with zeros, summing to what ran
    assert response.status_code == 200, response.text
    body = response.json()
    buckets = body["buckets"]
    assert len(buckets) == 60 and body["step"] == "1m"
    assert all(b["submitted"] == 0 and b["run_time_p95_ms"] is None for b in buckets[:-3])
    totals = {k: sum(b[k] for b in buckets) for k in ("submitted", "started", "succeeded", "failed", "cancelled")}
    assert totals == {"submitted": 12, "started": 11, "succeeded": 8, "failed": 1, "cancelled": 2}
    assert any(b["run_time_p95_ms"] is not None for b in buckets[-3:])

    # When it filters one operation over a day in hours
    sleeps = await http.get(
        "/v1/stats/timeseries", params={"window": "24h", "step": "1h", "queue": "general", "operation": "sleep"}
    )

    # Then 24 buckets count only that operation
    hours = sleeps.json()["buckets"]
    assert len(hours) == 24
    assert sum(b["succeeded"] for b in hours) == 4 and sum(b["cancelled"] for b in hours) == 1
