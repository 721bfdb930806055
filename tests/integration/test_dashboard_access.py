"""What a read-only key sees of the dashboard (no action its scopes do not allow), and that the
server refuses what the pages do not offer, and any post without the session's CSRF token."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from schemas.keys import Scope
from tests.support.api import submit, wait_for_status
from tests.support.browser import screenshot, signed_in
from tests.support.system import System


@pytest.fixture
def tenant() -> str:
    """A tenant of this test's own (the system is shared)."""
    return f"tenant-{secrets.token_hex(4)}"


@pytest.fixture
async def admin_key(shared_system: System, tenant: str) -> str:
    """A key with every scope."""
    return await shared_system.api_key(tenant)


@pytest.fixture
async def api(shared_system: System, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API, with the admin key."""
    async with shared_system.client(admin_key) as client:
        yield client


async def test_dashboard_read_only_key_sees_no_actions_and_forged_posts_are_refused(
    shared_system: System, browser: Browser, tenant: str, admin_key: str, api: httpx.AsyncClient
) -> None:
    # Given a running job and a read-only key of its tenant
    job = await submit(api, "sleep", {"seconds": 30})
    await wait_for_status(api, job["id"], "running")
    reader = await shared_system.api_key(tenant, [Scope.JOBS_READ])
    try:
        async with signed_in(browser, shared_system.base_url, reader, width=390) as watched:
            page = watched.page
            # Then no page offers what the key may not do, nor admin figures
            await expect(page.get_by_role("link", name="Queues")).to_have_count(0)
            await expect(page.get_by_text("queue figures and health need an admin key")).to_be_visible()
            await page.goto("/ui/jobs")
            await expect(page.locator(f"#job-{job['id']}")).to_be_visible()
            for verb in ("Cancel", "Retry"):
                await expect(page.get_by_role("button", name=verb, exact=True)).to_have_count(0)
            await screenshot(page, "jobs-read-only-phone")
            await page.get_by_label("Job id").fill(job["id"])
            await page.get_by_role("button", name="Filter").click()
            await page.wait_for_url(f"{shared_system.base_url}/ui/jobs/{job['id']}")
            await expect(page.get_by_role("progressbar")).to_be_visible()
            await expect(page.get_by_role("button", name="Cancel", exact=True)).to_have_count(0)
            await page.goto("/ui/dead-letters")
            for verb in ("Replay", "Purge", "Pause", "Resume"):
                await expect(page.get_by_role("button", name=re.compile(f"^{verb}"))).to_have_count(0)

            # And the server refuses it anyway: an admin page, and a cancel with a valid token
            assert (await page.request.get("/ui/queues")).status == 403
            token = await page.locator("body").get_attribute("data-csrf")
            refused = await page.request.post(f"/ui/jobs/{job['id']}/cancel", form={"_csrf": token or ""})
            assert refused.status == 403 and "jobs:write" in await refused.text()

        async with signed_in(browser, shared_system.base_url, admin_key) as watched:
            # When an admin session's browser is made to post without the CSRF token
            forged = await watched.page.request.post(f"/ui/jobs/{job['id']}/cancel", form={})
            paused = await watched.page.request.post("/ui/queues/general/pause", form={"_csrf": "forged"})

            # Then both are refused and nothing changed
            assert forged.status == 403 and paused.status == 403
        assert (await api.get(f"/v1/jobs/{job['id']}")).json()["status"] == "running"
        assert (await api.get("/v1/queues/general")).json()["paused"] is False
    finally:
        await api.post(f"/v1/jobs/{job['id']}/cancel")
