"""The dashboard's Schedules, Subscriptions and Workers pages in a real browser (Chromium through
Playwright) against a running Conveyor: disabling and enabling a schedule, a webhook delivery
with its status code and Redeliver, the live worker with the job it runs, and what a read-only
key is not shown. Every page is kept as a screenshot; any console error of a page fails its test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from infra.db import drop_database
from infra.settings import Settings
from schemas.keys import Scope
from tests.support.api import submit, wait_for_status
from tests.support.browser import mark_page, same_page, screenshot, signed_in
from tests.support.deliveries import Receiver
from tests.support.own_system import OVERRIDES
from tests.support.system import System, clone_database, eventually

TENANT = "acme-pages"


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    """A webhook receiver on loopback, answering 200."""
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
async def dashboard(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory, hooks: Receiver
) -> AsyncIterator[System]:
    """A Conveyor of this module's own whose webhooks may reach `hooks`, delivering them too."""
    url = await clone_database(template_url, f"conveyor_test_{secrets.token_hex(4)}")
    workdir = tmp_path_factory.mktemp("dashboard-pages")
    system = System.create(settings, url, workdir, **OVERRIDES, webhook_allow_private=f"127.0.0.1:{hooks.port}")
    try:
        system.start_all(queues=("general", "notifications"))
        yield system
    finally:
        system.close()
        await drop_database(url)


async def create_schedule(api: httpx.AsyncClient, name: str) -> dict[str, str]:
    """A schedule firing at 09:00 on weekdays; as the API shows it."""
    body = {
        "name": name,
        "cron": "0 9 * * 1-5",
        "job": {"engine": "general", "operation": "echo", "params": {"value": 1}},
    }
    response = await api.post("/v1/schedules", json=body)
    assert response.status_code == 201, response.text
    schedule: dict[str, str] = response.json()
    return schedule


async def test_dashboard_schedule_disable_then_enable(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    # Given a schedule, shown with its next fire times
    schedule = await create_schedule(api, "morning digest")
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        await page.goto("/ui/schedules")
        row = page.locator(f"#schedule-{schedule['id']}")
        await expect(row.locator(".fire-times time.fire")).to_have_count(3)
        await expect(row.locator(".fire-times time.fire").first).to_have_attribute(
            "datetime", schedule["next_run_at"].replace("+00:00", "Z")
        )
        await screenshot(page, "schedules")

        # When it is disabled from the page
        await row.get_by_role("button", name="Disable").click()

        # Then the API says it is disabled with no next fire time, and the page offers Enable
        await expect(row).to_have_attribute("data-enabled", "false")
        stored = (await api.get(f"/v1/schedules/{schedule['id']}")).json()
        assert (stored["enabled"], stored["next_run_at"]) == (False, None)
        await expect(row.locator(".fire-times time.fire")).to_have_count(0)

        # When it is enabled again
        await row.get_by_role("button", name="Enable").click()

        # Then it fires again, timed from now
        await expect(row).to_have_attribute("data-enabled", "true")
        stored = (await api.get(f"/v1/schedules/{schedule['id']}")).json()
        assert stored["enabled"] is True
        assert stored["next_run_at"] is not None


async def test_dashboard_subscription_shows_deliveries_and_redelivers(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    # Given a webhook subscription to succeeded jobs, and a job that succeeded
    body = {"channel": "webhook", "url": hooks.url("/pages"), "events": ["job.succeeded"], "description": "ops"}
    response = await api.post("/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    subscription = response.json()
    job = await submit(api, "echo", {"value": 1})
    await wait_for_status(api, job["id"], "succeeded")
    deliveries_url = f"/v1/subscriptions/{subscription['id']}/deliveries"

    async def delivered(attempts: int) -> dict[str, object] | None:
        items = (await api.get(deliveries_url)).json()["items"]
        done = [d for d in items if d["status"] == "delivered" and d["attempts"] >= attempts]
        return done[0] if done else None

    delivery = await eventually(lambda: delivered(1), timeout=20, message="the webhook delivered")
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # When the operator opens the subscription from the list
        await page.goto("/ui/subscriptions")
        await page.locator(f"#subscription-{subscription['id']}").get_by_role("link", name="webhook").click()

        # Then its delivery shows as delivered, with the receiver's status code
        row = page.locator(f"#delivery-{delivery['id']}")
        await expect(row.locator(".badge")).to_have_text("delivered")
        await expect(row.locator(".status-code")).to_have_text("200")
        await screenshot(page, "subscription")
        await mark_page(page)

        # When it is redelivered
        await row.get_by_role("button", name="Redeliver").click()

        # Then it is sent again under the same id, and the page shows the second attempt
        await eventually(lambda: delivered(2), timeout=20, message="the delivery sent again")
        await expect(page.locator(".notice")).to_contain_text("pending again")
        await expect(page.locator(f"#delivery-{delivery['id']} .status-code")).to_have_count(2)
        assert len(hooks.seen("/pages")) == 2


async def test_dashboard_workers_lists_the_running_worker_and_its_job(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # Given the workers page, open and live
        await page.goto("/ui/workers")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        rows = page.locator("#worker-rows tbody tr")
        await expect(rows.first).to_contain_text("general")
        await mark_page(page)

        # When a job starts running
        job = await submit(api, "sleep", {"seconds": 2})
        await wait_for_status(api, job["id"], "running")

        # Then the worker running it shows it, with its host, pid and threads, without a reload
        workers = (await api.get("/v1/workers")).json()["items"]
        runner = next(w for w in workers if job["id"] in w["running_job_ids"])
        row = page.locator(f"#worker-{runner['id']}")
        await expect(row.locator(f"a[href='/ui/jobs/{job['id']}']")).to_be_visible()
        await expect(row).to_contain_text(runner["host"])
        await expect(row).to_contain_text(str(runner["pid"]))
        assert await same_page(page)
        await screenshot(page, "workers")
        await wait_for_status(api, job["id"], "succeeded")


async def test_dashboard_read_only_key_sees_no_buttons_to_change_schedules_or_subscriptions(
    dashboard: System, browser: Browser, api: httpx.AsyncClient, hooks: Receiver
) -> None:
    # Given a schedule, a subscription and a key that may only read
    schedule = await create_schedule(api, "read-only view")
    body = {"channel": "webhook", "url": hooks.url("/read-only"), "events": ["job.failed"]}
    subscription = (await api.post("/v1/subscriptions", json=body)).json()
    reader = await dashboard.api_key(TENANT, [Scope.JOBS_READ])
    async with signed_in(browser, dashboard.base_url, reader) as watched:
        page = watched.page
        # When it opens the schedules and subscription pages
        await page.goto("/ui/schedules")
        await expect(page.locator(f"#schedule-{schedule['id']}")).to_be_visible()

        # Then neither Disable, Enable nor Redeliver is offered, and Workers (admin) is not linked
        await expect(page.get_by_role("button", name="Disable")).to_have_count(0)
        await expect(page.get_by_role("button", name="Enable")).to_have_count(0)
        await expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Workers")).to_have_count(0)
        await page.goto(f"/ui/subscriptions/{subscription['id']}")
        await expect(page.get_by_role("table", name="Deliveries")).to_be_visible()
        await expect(page.get_by_role("button", name="Redeliver")).to_have_count(0)
        await screenshot(page, "subscription-read-only")

        # And a forged form post with its session but without the CSRF token changes nothing
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        async with httpx.AsyncClient(base_url=dashboard.base_url, cookies=cookies) as forger:
            forged = await forger.post(f"/ui/schedules/{schedule['id']}/disable", data={})
        assert forged.status_code == 403
        stored = (await api.get(f"/v1/schedules/{schedule['id']}")).json()
        assert stored["enabled"] is True
