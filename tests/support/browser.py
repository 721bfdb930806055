"""Driving the dashboard in Chromium (Playwright), for the browser tests.

`chromium()` launches the system's Chromium (no browser download); `signed_in()` opens a page
signed in through the sign-in form and fails the test if the page logs any console error or
throws; `screenshot()` keeps a picture of the page under tests/output/screenshots/.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, ConsoleMessage, Dialog, Error, Page, async_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "output" / "screenshots"
#: Debian's Chromium, which the project's set-up installs (Playwright downloads no browser).
CHROMIUM = "/usr/bin/chromium"
#: How long a page element may take to show what a test waits for (live updates included).
WAIT_MS = 15_000


def chromium_path() -> str | None:
    """The Chromium the tests drive, or None if it is not installed."""
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium, closed afterwards."""
    path = chromium_path()
    assert path is not None, "Chromium is missing: `conveyor services --test-tools` installs it"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Watched:
    """A page, the console errors and uncaught exceptions it produced, and the dialogs it opened
    (each accepted)."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        """Keep console errors."""
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    def on_page_error(self, error: Error) -> None:
        """Keep uncaught exceptions."""
        self.errors.append(f"page error: {error}")

    async def on_dialog(self, dialog: Dialog) -> None:
        """Accept confirmations, keeping what they asked."""
        self.dialogs.append(dialog.message)
        await dialog.accept()


@asynccontextmanager
async def signed_in(
    browser: Browser,
    base_url: str,
    key: str,
    *,
    width: int = 1280,
    dark: bool = False,
    shoot_form: str | None = None,
) -> AsyncIterator[Watched]:
    """A page signed in with `key` through the sign-in form (label "API key", button "Sign in"),
    `width` pixels wide (390: a phone), in the dark theme if `dark`; `shoot_form` names the
    screenshot to keep of the filled form. Fails on any console error or page error once the
    block ends."""
    context = await browser.new_context(
        base_url=base_url, viewport={"width": width, "height": 900}, color_scheme="dark" if dark else "light"
    )
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    watched = Watched(page)
    page.on("console", watched.on_console)
    page.on("pageerror", watched.on_page_error)
    page.on("dialog", watched.on_dialog)
    try:
        await page.goto("/ui/sign-in")
        await page.get_by_label("API key").fill(key)
        if shoot_form is not None:
            await screenshot(page, shoot_form)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{base_url}/ui")
        yield watched
    finally:
        await context.close()
    assert not watched.errors, "the page logged errors:\n" + "\n".join(watched.errors)


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as tests/output/screenshots/<name>.png; its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def mark_page(page: Page) -> None:
    """Mark the loaded document, so that `same_page` can tell it was not reloaded."""
    await page.evaluate("window.__conveyorTestMark = true")


async def same_page(page: Page) -> bool:
    """Whether the document marked by `mark_page` is still the one shown (no reload happened)."""
    return bool(await page.evaluate("window.__conveyorTestMark === true"))
