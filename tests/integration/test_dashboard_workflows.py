"""The dashboard's workflow pages in a real browser (Chromium through Playwright) against a running
Conveyor: the list with a new workflow arriving live, the DAG graph whose nodes turn green as
they succeed (without a reload), for_each counts, a node opening its job, and Cancel then Retry.
Every page is kept as a screenshot; any console error of a page fails its test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from infra.settings import Settings
from tests.support.browser import mark_page, same_page, screenshot, signed_in
from tests.support.own_system import own_system
from tests.support.system import System
from tests.support.workflows import echo, nodes_by_key, ref, sleep, submit_workflow, wait_for_workflow

TENANT = "acme-flows"


@pytest.fixture(scope="module")
async def dashboard(
    settings: Settings, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    """A Conveyor of this module's own."""
    async with own_system(settings, template_url, tmp_path_factory.mktemp("dashboard-workflows")) as system:
        yield system


def fan_out() -> list[dict[str, object]]:
    """A DAG of general.sleep/echo nodes: start → (list → each item, side) → join."""
    return [
        sleep("start", 3),
        echo("list", [1, 2, 3], "start"),
        echo("each", ref("$item"), "list", for_each="list.result.value"),
        echo("side", "b", "start"),
        echo("join", ref("each.result"), "each", "side"),
    ]


async def test_dashboard_workflow_graph_turns_green_live(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # Given a workflow whose first node sleeps, open on its page while it runs
        workflow = await submit_workflow(api, fan_out(), name="fan-out")
        await page.goto(f"/ui/workflows/{workflow['id']}")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await mark_page(page)
        graph = page.get_by_role("img", name="Graph of workflow fan-out")
        await expect(graph).to_be_visible()
        join = page.locator("svg.dag .dag-node[data-key='join']")
        assert await join.get_attribute("data-status") == "waiting"
        await screenshot(page, "workflow-running")

        # When its nodes finish
        await wait_for_workflow(api, workflow["id"], "succeeded")

        # Then every node turns green in place, the for_each node counting its items, with no reload
        for key in ("start", "list", "each", "side", "join"):
            await expect(page.locator(f"svg.dag .dag-node[data-key='{key}']")).to_have_attribute(
                "data-status", "succeeded"
            )
        await expect(page.locator("svg.dag .dag-node[data-key='each'] .dag-state")).to_have_text("✓ succeeded · 3/3")
        await expect(page.locator("#workflow-title .badge")).to_have_text("succeeded")
        assert await same_page(page)
        green = await page.evaluate(
            "getComputedStyle(document.querySelector(\"svg.dag .dag-node[data-key='join'] rect\")).stroke"
        )
        badge = await page.evaluate("getComputedStyle(document.querySelector('#node-join .badge')).color")
        assert green == badge
        await screenshot(page, "workflow-succeeded")
        await page.emulate_media(color_scheme="dark")
        await screenshot(page, "workflow-succeeded-dark")

        # When a node with a job is chosen with the keyboard (or clicked), then its job opens
        start_job = nodes_by_key((await api.get(f"/v1/workflows/{workflow['id']}")).json())["start"]["job_id"]
        await page.locator("svg.dag a.dag-node[data-key='start']").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(f"/ui/jobs/{start_job}$"))
        await page.go_back()
        await page.locator("svg.dag a.dag-node[data-key='join']").click()
        join_job = nodes_by_key((await api.get(f"/v1/workflows/{workflow['id']}")).json())["join"]["job_id"]
        await page.wait_for_url(re.compile(f"/ui/jobs/{join_job}$"))

        # And the for_each node opens the list of its item jobs
        await page.go_back()
        await page.locator("svg.dag a.dag-node[data-key='each']").click()
        await page.wait_for_url(re.compile(r"/ui/jobs\?.*node_key=each"))
        await expect(page.locator("tbody tr[id^='job-']")).to_have_count(3)


async def test_dashboard_workflows_list_shows_a_new_workflow_live(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        # Given the workflows list, open and live
        await page.goto("/ui/workflows")
        await expect(page.locator("#live")).to_have_attribute("data-state", "live")
        await mark_page(page)

        # When a workflow is submitted through the API
        workflow = await submit_workflow(api, [echo("a", 1), echo("b", 2, "a")], name="arrives", tags=["ui"])

        # Then its row arrives at the top and its status turns to succeeded, without a reload
        row = page.locator(f"#workflow-{workflow['id']}")
        await expect(row).to_be_visible()
        await expect(page.locator("#workflow-rows tr").first).to_have_id(f"workflow-{workflow['id']}")
        await expect(row.locator(".badge")).to_have_text("succeeded")
        await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
        assert await same_page(page)
        await screenshot(page, "workflows")
        await page.set_viewport_size({"width": 390, "height": 844})
        await screenshot(page, "workflows-phone")

        # And filters live in the query string as the API takes them
        await page.goto("/ui/workflows?status=failed&tag=ui")
        await expect(page.locator(f"#workflow-{workflow['id']}")).to_have_count(0)
        await page.goto("/ui/workflows?status=succeeded&tag=ui")
        await expect(page.locator(f"#workflow-{workflow['id']}")).to_be_visible()


async def test_dashboard_workflow_cancel_then_retry(
    dashboard: System, browser: Browser, admin_key: str, api: httpx.AsyncClient
) -> None:
    # Given a running workflow whose node sleeps long
    workflow = await submit_workflow(api, [sleep("nap", 30), echo("after", 1, "nap")], name="long")
    async with signed_in(browser, dashboard.base_url, admin_key) as watched:
        page = watched.page
        await page.goto(f"/ui/workflows/{workflow['id']}")

        # When the operator cancels it from its page (and confirms)
        await page.get_by_role("button", name="Cancel").click()

        # Then it is cancelled, as the API says, and it can be retried instead
        cancelled = await wait_for_workflow(api, workflow["id"], "cancelled")
        assert nodes_by_key(cancelled)["after"]["status"] == "cancelled"
        assert any("Cancel workflow long?" in asked for asked in watched.dialogs)
        await expect(page.locator("#workflow-title .badge")).to_have_text("cancelled")
        await expect(page.get_by_role("button", name="Cancel")).to_have_count(0)

        # When it is retried from its page
        await page.get_by_role("button", name="Retry").click()

        # Then it runs again from its cancelled nodes
        await expect(page.locator("#workflow-title .badge")).to_have_text("running")
        again = (await api.get(f"/v1/workflows/{workflow['id']}")).json()
        assert again["retries"] == 1
        assert again["status"] == "running"
        await screenshot(page, "workflow-retried")
    response = await api.post(f"/v1/workflows/{workflow['id']}/cancel")
    assert response.status_code in (200, 202), response.text
