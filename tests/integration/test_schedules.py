"""Cron schedules: the /v1/schedules API, and one job per fire time from the leading scheduler."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from msgspec.structs import replace

from infra import schedules
from infra.db import create_pool
from infra.schedules import NewSchedule
from infra.settings import Settings
from schemas.contracts import load_contracts
from schemas.jobs import JobSubmit
from schemas.keys import Scope
from services.cron import fire_due
from services.submit import build_job
from tests.support.api import wait_for_status
from tests.support.schedules import (
    EVERY_SECOND,
    YEARLY,
    assert_each_fire_time_run_once,
    count_at_least,
    create,
    echo,
    fired,
    jobs_of,
    logged,
    parse,
)
from tests.support.system import System, wait_until


async def test_schedule_crud_round_trip(client: httpx.AsyncClient) -> None:
    # Given a yearly schedule, When created, Then it is shown with defaults and its first fire time
    created = await create(client, YEARLY, name="new year")
    assert created["timezone"] == "UTC" and created["enabled"] is True and created["job"]["operation"] == "echo"
    assert parse(created["next_run_at"]) == datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
    assert created["last_run_at"] is None and created["last_job_id"] is None
    sid = created["id"]
    assert (await client.get(f"/v1/schedules/{sid}")).json() == created
    # When renamed only, Then its timing stays; When re-timed, Then next_run_at follows
    renamed = (await client.patch(f"/v1/schedules/{sid}", json={"name": "renamed"})).json()
    assert renamed["name"] == "renamed" and renamed["next_run_at"] == created["next_run_at"]
    response = await client.patch(f"/v1/schedules/{sid}", json={"cron": "0 12 * * *", "timezone": "Asia/Tokyo"})
    assert response.status_code == 200, response.text
    retimed = response.json()
    assert parse(retimed["next_run_at"]).astimezone(ZoneInfo("Asia/Tokyo")).hour == 12
    assert retimed["name"] == "renamed" and parse(retimed["updated_at"]) > parse(created["updated_at"])
    # When two more exist, Then the listing pages newest first
    others = [await create(client, YEARLY, name=f"other {i}") for i in range(2)]
    first = (await client.get("/v1/schedules", params={"limit": 2})).json()
    assert [s["id"] for s in first["items"]] == [others[1]["id"], others[0]["id"]] and first["next_cursor"]
    rest = (await client.get("/v1/schedules", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [s["id"] for s in rest["items"]] == [sid] and rest["next_cursor"] is None
    # When deleted, Then it is gone
    assert (await client.delete(f"/v1/schedules/{sid}")).status_code == 204
    assert (await client.get(f"/v1/schedules/{sid}")).status_code == 404
    assert (await client.delete(f"/v1/schedules/{sid}")).status_code == 404


async def test_schedule_of_another_tenant_answers_404(shared_system: System, client: httpx.AsyncClient) -> None:
    # Given a schedule of one tenant
    sid = (await create(client, YEARLY))["id"]
    # When another tenant asks for it, changes it or deletes it, Then it does not exist for them
    async with shared_system.client(await shared_system.api_key(f"other-{uuid.uuid4().hex[:8]}")) as other:
        assert (await other.get(f"/v1/schedules/{sid}")).status_code == 404
        assert (await other.patch(f"/v1/schedules/{sid}", json={"enabled": False})).status_code == 404
        assert (await other.delete(f"/v1/schedules/{sid}")).status_code == 404
        assert (await other.get("/v1/schedules")).json()["items"] == []
    assert (await client.get(f"/v1/schedules/{sid}")).json()["enabled"] is True


async def test_schedule_endpoints_need_a_key_and_the_scope(shared_system: System) -> None:
    tenant = f"scopes-{uuid.uuid4().hex[:8]}"
    body = {"name": "s", "cron": YEARLY, "job": echo()}
    async with shared_system.client(await shared_system.api_key(tenant, [Scope.JOBS_WRITE])) as writer:
        sid = (await writer.post("/v1/schedules", json=body)).json()["id"]
        assert (await writer.get(f"/v1/schedules/{sid}")).status_code == 403
        assert (await writer.get("/v1/schedules")).status_code == 403
    async with shared_system.client(await shared_system.api_key(tenant, [Scope.JOBS_READ])) as reader:
        assert (await reader.get(f"/v1/schedules/{sid}")).status_code == 200
        assert (await reader.post("/v1/schedules", json=body)).status_code == 403
        assert (await reader.patch(f"/v1/schedules/{sid}", json={"enabled": False})).status_code == 403
        assert (await reader.delete(f"/v1/schedules/{sid}")).status_code == 403
    async with shared_system.client(None) as anonymous:
        assert (await anonymous.get("/v1/schedules")).status_code == 401
        assert (await anonymous.post("/v1/schedules", json=body)).status_code == 401


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"cron": "61 * * * *"}, {"cron"}),
        ({"cron": "* * *"}, {"cron"}),
        ({"cron": "0 0 31 2 *"}, {"cron"}),
        ({"timezone": "Mars/Olympus_Mons"}, {"timezone"}),
        ({"job": {"engine": "general", "operation": "echo", "params": {}}}, {"job.params.value"}),
        ({"job": {"engine": "general", "operation": "nope"}}, {"job.operation"}),
        ({"job": {"engine": "nope", "operation": "echo"}}, {"job.engine"}),
        ({"job": {**echo(), "delay_seconds": 5}}, {"job.delay_seconds"}),
        ({"job": {**echo(), "run_at": "2030-01-01T00:00:00Z"}}, {"job.run_at"}),
        ({"job": {**echo(), "idempotency_key": "k"}}, {"job.idempotency_key"}),
        ({"job": {**echo(), "status": "queued"}}, {"job.status"}),
        ({"next_run_at": "2030-01-01T00:00:00Z"}, {"next_run_at"}),
        ({"name": ""}, {"name"}),
        ({"enabled": "yes"}, {"enabled"}),
        (
            {"cron": "bad", "timezone": "Nowhere", "job": {**echo(), "params": {}}},
            {"cron", "timezone", "job.params.value"},
        ),
    ],
)
async def test_bad_schedules_are_refused_naming_the_fields(
    client: httpx.AsyncClient, change: dict[str, Any], fields: set[str]
) -> None:
    # Given a schedule body with a fault, When created, Then 422 names the fields at fault
    response = await client.post("/v1/schedules", json={"name": "s", "cron": YEARLY, "job": echo(), **change})
    assert response.status_code == 422, response.text
    assert {e["field"] for e in response.json()["errors"]} == fields, response.text
    # And the same change to an existing schedule is refused alike, leaving it as it was
    sid = (await create(client, YEARLY))["id"]
    response = await client.patch(f"/v1/schedules/{sid}", json={k: v for k, v in change.items() if k != "name"})
    if "name" not in change:
        assert response.status_code == 422, response.text
        assert {e["field"] for e in response.json()["errors"]} == fields, response.text
    assert (await client.get(f"/v1/schedules/{sid}")).json()["cron"] == YEARLY


async def test_every_second_schedule_runs_one_job_per_fire_time(
    shared_system: System, client: httpx.AsyncClient
) -> None:
    # Given a schedule firing every second
    schedule = await create(client, job=echo("tick"))
    # When five fire times have passed
    await count_at_least(client, schedule["id"], 5)
    await client.patch(f"/v1/schedules/{schedule['id']}", json={"enabled": False})
    # Then each fire time has one job, listed by schedule_id, the first at the first fire time
    rows = await fired(shared_system.settings.database_url, schedule["id"])
    assert_each_fire_time_run_once(rows)
    assert rows[0]["fire_time"] == parse(schedule["next_run_at"])
    assert all(row["created_at"] >= row["fire_time"] for row in rows)
    listed = await jobs_of(client, schedule["id"])
    assert sorted(job["id"] for job in listed) == sorted(str(row["id"]) for row in rows)
    assert {job["schedule_id"] for job in listed} == {schedule["id"]}
    # And the jobs run, and the schedule shows its last run
    done = await wait_for_status(client, str(rows[-1]["id"]), "succeeded")
    assert done["result"] == {"value": "tick"}
    seen = (await client.get(f"/v1/schedules/{schedule['id']}")).json()
    assert seen["last_job_id"] == str(rows[-1]["id"]) and parse(seen["last_run_at"]) == rows[-1]["created_at"]
    assert logged(shared_system, "scheduler", "schedule_fire_time_taken") == []


async def test_disabled_schedule_stops_firing_until_enabled(client: httpx.AsyncClient) -> None:
    # Given a schedule that has fired, and another one that keeps firing
    schedule, control = await create(client), await create(client)
    await count_at_least(client, schedule["id"], 2)
    # When disabled
    disabled = (await client.patch(f"/v1/schedules/{schedule['id']}", json={"enabled": False})).json()
    assert disabled["enabled"] is False and disabled["next_run_at"] is None
    made = len(await jobs_of(client, schedule["id"]))
    # Then while the other fires three more times, it fires no more
    await count_at_least(client, control["id"], len(await jobs_of(client, control["id"])) + 3)
    assert len(await jobs_of(client, schedule["id"])) == made
    # When enabled again, Then it fires from now on, without replaying the seconds it was off
    enabled_at = datetime.now(UTC)
    enabled = (await client.patch(f"/v1/schedules/{schedule['id']}", json={"enabled": True})).json()
    assert parse(enabled["next_run_at"]) > enabled_at - timedelta(seconds=1)
    await count_at_least(client, schedule["id"], made + 1)
    newest = (await jobs_of(client, schedule["id"]))[0]
    assert parse(newest["created_at"]) >= enabled_at
    await client.delete(f"/v1/schedules/{control['id']}")
    await client.delete(f"/v1/schedules/{schedule['id']}")


async def test_deleted_schedule_stops_firing_and_keeps_its_jobs(client: httpx.AsyncClient) -> None:
    # Given a schedule that has fired, and another one that keeps firing
    schedule, control = await create(client), await create(client)
    await count_at_least(client, schedule["id"], 2)
    # When deleted
    assert (await client.delete(f"/v1/schedules/{schedule['id']}")).status_code == 204
    made = len(await jobs_of(client, schedule["id"]))
    # Then while the other fires three more times, it fires no more; its jobs stay listed
    await count_at_least(client, control["id"], len(await jobs_of(client, control["id"])) + 3)
    assert len(await jobs_of(client, schedule["id"])) == made >= 2
    await client.delete(f"/v1/schedules/{control['id']}")


def next_local(now: datetime, zone: ZoneInfo, hour: int, minute: int = 0) -> datetime:
    """The first `hour:minute` wall-clock time in `zone` after `now`."""
    local = now.astimezone(zone)
    day = local.date() if (local.hour, local.minute) < (hour, minute) else local.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


async def test_schedule_in_a_time_zone_shows_its_next_run_in_that_zone(client: httpx.AsyncClient) -> None:
    # Given 09:00 every day in New York, and minute 30 of every hour in Kolkata (UTC+05:30)
    now = datetime.now(UTC)
    new_york = await create(client, "0 9 * * *", timezone="America/New_York")
    kolkata = await create(client, "0 30 * * * *", timezone="Asia/Kolkata")
    # Then next_run_at is the next such wall-clock time, in UTC
    assert parse(new_york["next_run_at"]) == next_local(now, ZoneInfo("America/New_York"), 9)
    assert parse(new_york["next_run_at"]).utcoffset() == timedelta(0)
    kolkata_next = parse(kolkata["next_run_at"])
    assert kolkata_next.minute == 0 and now < kolkata_next <= now + timedelta(hours=1)


async def test_missed_fire_times_are_coalesced_into_one_run(make_system: Callable[..., Awaitable[System]]) -> None:
    # Given a gateway and no scheduler, and an every-second schedule that misses five fire times
    system = await make_system()
    system.start_gateway()
    async with system.client(await system.api_key("coalesce")) as http:
        schedule = await create(http)
        first = parse(schedule["next_run_at"])
        wait_until(lambda: datetime.now(UTC) > first + timedelta(seconds=5), timeout=10)
        assert await jobs_of(http, schedule["id"]) == []
        # When a scheduler starts
        system.start_scheduler()
        await count_at_least(http, schedule["id"], 3, timeout=30)
        await http.delete(f"/v1/schedules/{schedule['id']}")
    # Then the missed fire times got one job (carrying the first of them), none was replayed
    rows = await fired(system.settings.database_url, schedule["id"])
    assert rows[0]["fire_time"] == first and rows[0]["created_at"] > first + timedelta(seconds=5)
    assert sum(1 for row in rows if row["fire_time"] <= rows[0]["created_at"]) == 1
    assert_each_fire_time_run_once(rows)


async def test_standby_scheduler_takes_over_within_10_s_and_no_fire_time_doubles(
    make_system: Callable[..., Awaitable[System]],
) -> None:
    # Given two schedulers, one leading, and an every-second schedule it fires
    system = await make_system()
    system.start_gateway()
    system.start_scheduler("leader")
    wait_until(lambda: logged(system, "leader", "scheduler_leading"), timeout=30, message="a leader")
    system.start_scheduler("standby")
    wait_until(lambda: logged(system, "standby", "scheduler_standing_by"), timeout=30, message="a standby")
    async with system.client(await system.api_key("failover")) as http:
        schedule = await create(http)
        await count_at_least(http, schedule["id"], 3)
        # When the leader is killed
        system.stop("leader", sig=signal.SIGKILL)
        killed_at = datetime.now(UTC)
        made = len(await jobs_of(http, schedule["id"]))
        # Then the standby leads and fires on
        await count_at_least(http, schedule["id"], made + 3, timeout=30)
        await http.delete(f"/v1/schedules/{schedule['id']}")
    rows = await fired(system.settings.database_url, schedule["id"])
    after_kill = [row for row in rows if row["created_at"] > killed_at]
    assert after_kill[0]["created_at"] - killed_at <= timedelta(seconds=10)
    # (each led once: leadership never flapped)
    assert [len(logged(system, name, "scheduler_leading")) for name in ("leader", "standby")] == [1, 1]
    # And over the whole run no fire time had two jobs (none was even tried twice) or none
    assert_each_fire_time_run_once(rows)
    for name in ("leader", "standby"):
        assert logged(system, name, "schedule_fire_time_taken") == []


async def test_one_fire_time_yields_one_job_even_when_fired_twice(settings: Settings, database_url: str) -> None:
    # Given a due schedule
    settings = replace(settings, database_url=database_url)
    pool = await create_pool(settings, application_name="conveyor-test", max_size=4)
    try:
        due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
        new = NewSchedule(name="s", cron=EVERY_SECOND, timezone="UTC", job=echo(), enabled=True, next_run_at=due)
        schedule = await schedules.create_schedule(pool, "twice", new)
        # When two schedulers fire due schedules at the same moment (as if both led)
        registry = load_contracts()
        results = await asyncio.gather(*(fire_due(pool, registry, settings) for _ in range(2)))
        # Then one fired it (the other skipped it, locked, or found it no longer due), with a publish intent
        [(job,)] = [fired for fired, _ in results if fired]
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE job_id = $1", job.id) == 1
        # When that fire time is fired once more anyway, Then the UNIQUE (schedule_id, fire_time) refuses it
        again = build_job(JobSubmit(**echo()), registry, settings)
        current = await schedules.get_schedule(pool, "twice", schedule["id"])
        async with pool.acquire() as conn, conn.transaction():
            assert await schedules.fire_schedule(conn, schedule["id"], due, current["next_run_at"], again) is None
        query = "SELECT count(*) FROM jobs WHERE schedule_id = $1 AND fire_time = $2"
        assert await pool.fetchval(query, schedule["id"], due) == 1
        assert (
            (await schedules.get_schedule(pool, "twice", schedule["id"]))["last_job_id"]
            == job.id
            == current["last_job_id"]
        )
    finally:
        await pool.close()
