"""The dashboard in Chromium (Playwright) against a running Conveyor: live rows and progress,
actions, dead letters, queue controls and artifacts (what a read-only key may see and do:
test_dashboard_access.py). Every page visited is kept as a screenshot; any console error of a
page fails its test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from infra.settings import Settings
from tests.support.api import submit, wait_for_status
from tests.support.browser import mark_page, same_page, screenshot, signed_in
from tests.support.own_system import own_system
from tests.support.system import System

TENANT = "acme"


@pytest.fixture(scope="module")
async def dashboard(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """A Conveyor of this module's own (the tests pause its queue), image_generation included."""
    workdir = tmp_path_factory.mktemp("dashboard")
    async with own_system(settings, template_url, workdir, queues=("general", "image_generation")) as system:
        yield system


async def test_dashboard_job_row_and_progress_move_live_then_cancel(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # Given the jobs list, open and live
        await page.goto("/ui/jobs")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await mark_page(page)

        # When a general.sleep is submitted through the API
        job = await submit(api, "sleep", {"seconds": 30})

        # Then its row arrives and its progress bar moves, without a reload
        row = page.locator(f"#job-{job['id']}")
        await expect(row.locator(".badge")).to_have_text("running")
        bar = row.get_by_role("progressbar")
        await expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-9]\d*$"))
        first = int(await bar.get_attribute("aria-valuenow") or 0)
        await page.wait_for_function(
            "([id, first]) => +document.querySelector(`#job-${id} [role=progressbar]`)"
            ".getAttribute('aria-valuenow') > first",
            arg=[job["id"], first],
        )
        assert await same_page(page)
        await screenshot(page, "jobs")

        # When it is cancelled from its page
        await row.get_by_role("link", name=job["id"][-8:]).click()
        await expect(page.get_by_role("heading", name=re.compile("Job"))).to_be_visible()
        await expect(page.get_by_role("progressbar")).to_be_visible()
        await screenshot(page, "job")
        await page.get_by_role("button", name="Cancel", exact=True).click()

        # Then it asked first, the job is cancelled, and the page shows it without a reload
        assert watched.dialogs[-1] == f"Cancel job {job['id'][-8:]}?"
        await expect(page.locator(".notice")).to_contain_text("asked 1 running to stop")
        await mark_page(page)
        await wait_for_status(api, job["id"], "cancelled")
        await expect(page.locator("#job-detail h1 .badge")).to_have_text("cancelled")
        await expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
        assert await same_page(page)

        # When it is retried from its page
        await page.get_by_role("button", name="Retry", exact=True).click()

        # Then it runs again
        await expect(page.locator(".notice")).to_have_text("retried 1")
        await expect(page.locator("#job-detail h1 .badge")).to_have_text("running")
        await api.post(f"/v1/jobs/{job['id']}/cancel")


async def test_dashboard_cancels_and_retries_a_selection(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    # Given two running jobs tagged for this test
    jobs = [await submit(api, "sleep", {"seconds": 30}, tags=["bulk"]) for _ in range(2)]
    for job in jobs:
        await wait_for_status(api, job["id"], "running")
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        await page.goto("/ui/jobs?tag=bulk")

        # When both are ticked and cancelled
        for job in jobs:
            await page.get_by_label(f"Select job {job['id'][-8:]}").check()
        await page.get_by_role("button", name="Cancel", exact=True).click()

        # Then the action asked how many, said what it did, and both stop
        assert watched.dialogs[-1] == "Cancel 2 selected jobs?"
        await expect(page.locator(".notice")).to_have_text("cancelled 0, asked 2 running to stop")
        for job in jobs:
            await wait_for_status(api, job["id"], "cancelled")
            await expect(page.locator(f"#job-{job['id']} .badge")).to_have_text("cancelled")

        # When both are retried at once (ticking every row shown)
        await page.get_by_label("Select every job shown").check()
        await page.get_by_role("button", name="Retry", exact=True).click()

        # Then both run again
        assert watched.dialogs[-1] == "Retry 2 selected jobs?"
        await expect(page.locator(".notice")).to_have_text("retried 2")
        for job in jobs:
            await wait_for_status(api, job["id"], "running", "queued")
            await api.post(f"/v1/jobs/{job['id']}/cancel")


async def test_dashboard_previews_a_jobs_artifacts(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    # Given a job that made an image
    made = await submit(api, "render_card", {"title": "Dashboard"}, engine="image_generation")
    job = await wait_for_status(api, made["id"], "succeeded")
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # When its page is opened
        await page.goto(f"/ui/jobs/{job['id']}")

        # Then the image shows inline (read with the session), with its result and a download link
        image = page.get_by_role("img", name="card.png")
        await expect(image).to_be_visible()
        await page.wait_for_function(
            "img => img.complete && img.naturalWidth === 1200", arg=await image.element_handle()
        )
        await expect(page.get_by_role("link", name="card.png")).to_have_attribute("download", "card.png")
        await expect(page.locator("pre").nth(1)).to_contain_text('"width": 1200')
        await screenshot(page, "job-artifacts")


async def test_dashboard_replays_a_dead_letter(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # Given the dead letters of one operation, open
        await page.goto("/ui/dead-letters?operation=flaky")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await mark_page(page)

        # When a job of it fails for good (its next attempt would succeed)
        job = await submit(api, "flaky", {"fail_times": 1, "permanent": True})
        await wait_for_status(api, job["id"], "failed")

        # Then it arrives in the list without a reload
        await expect(page.locator(f"#dead-{job['id']}")).to_contain_text("permanent")
        assert await same_page(page)
        await screenshot(page, "dead-letters")

        # When it is ticked and replayed
        await page.get_by_label(f"Select dead letter {job['id'][-8:]}").check()
        await page.get_by_role("button", name="Replay", exact=True).click()

        # Then the replay asked how many, said what it did, and the job ran again
        assert watched.dialogs[-1] == "Replay 1 selected dead letters?"
        await expect(page.locator(".notice")).to_have_text("replayed 1")
        done = await wait_for_status(api, job["id"], "succeeded")
        assert done["attempts"] == 2
        await expect(page.locator(f"#dead-{job['id']}")).to_have_count(0)

        # When another fails, and all matching are replayed at most 2 a second
        again = await submit(api, "flaky", {"fail_times": 1, "permanent": True})
        await expect(page.locator(f"#dead-{again['id']}")).to_be_visible()
        await page.get_by_label("At most").fill("2")
        await page.get_by_role("button", name="Replay all 1 matching").click()

        # Then that one runs again too
        assert watched.dialogs[-1] == "Replay all 1 matching dead letters?"
        await expect(page.locator(".notice")).to_contain_text("replayed 1")
        await wait_for_status(api, again["id"], "succeeded")


async def test_dashboard_paused_queue_holds_a_job_with_its_reason(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    async with signed_in(browser, dashboard.base_url, admin_key, dark=True) as watched:
        page = watched.page
        try:
            # Given the general queue paused from the queues page
            await page.goto("/ui/queues")
            await page.get_by_role("button", name="Pause general").click()
            await expect(page.locator(".notice")).to_have_text("general paused")
            await expect(page.locator("#queue-general .badge")).to_have_text("paused")
            await screenshot(page, "queues-dark")

            # And its limits set there too
            limits = page.locator("#queue-general")
            await limits.get_by_label("concurrency").fill("3")
            await limits.get_by_role("button", name="Set limits of general").click()
            await expect(page.locator(".notice")).to_have_text("general: max_concurrency 3, max_backlog none")
            assert (await api.get("/v1/queues/general/limits")).json()["max_concurrency"] == 3

            # When a job of it is submitted
            job = await submit(api, "echo", {"value": 1})

            # Then its page shows it waiting, and why
            await page.goto(f"/ui/jobs/{job['id']}")
            await expect(page.locator("#job-detail h1 .badge")).to_have_text("queued")
            await expect(page.locator(".waiting-reason")).to_have_text("queue_paused")
            await screenshot(page, "job-waiting-dark")

            # And once resumed, the job runs, shown live on its page
            await page.goto("/ui/queues")
            await page.get_by_role("button", name="Resume general").click()
            await expect(page.locator(".notice")).to_have_text("general resumed")
            await page.goto(f"/ui/jobs/{job['id']}")
            await mark_page(page)
            await expect(page.locator("#job-detail h1 .badge")).to_have_text("succeeded")
            assert await same_page(page)
        finally:
            await api.post("/v1/queues/general/resume")
            await api.put("/v1/queues/general/limits", json={"max_concurrency": None})


async def test_dashboard_sign_in_opens_the_overview(dashboard: System, browser: Browser, admin_key: str) -> None:
    # Given a system that ran the jobs of the tests above
    # When a browser signs in through the sign-in form
    async with signed_in(browser, dashboard.base_url, admin_key, shoot_form="sign-in") as watched:
        page = watched.page
        # Then the overview shows every queue, the last hour's chart and the health line
        await expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        await expect(page.locator("#queue-general")).to_be_visible()
        await expect(page.get_by_role("img", name=re.compile("Jobs finished per minute"))).to_be_visible()
        await expect(page.get_by_role("heading", name=re.compile("Health"))).to_be_visible()
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await expect(page.locator("svg.chart rect.series-succeeded").first).to_be_visible()
        await screenshot(page, "overview")
