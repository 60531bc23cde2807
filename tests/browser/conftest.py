"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against pytest-django's live server.

Playwright cannot download its own browser here, so the system Chromium is used. When it is missing the
browser tests are skipped on a developer machine and fail in CI (CI=true), where they must run.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(scope="session")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (as root) from Debian's packages")
        pytest.skip(f"{CHROMIUM} is missing; install the Debian package chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests' own ORM calls stay synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def new_page(chromium, live_server):
    """Open pages in fresh browser contexts (separate cookies, like separate people) on the live server."""
    contexts = []

    def open_page():
        context = chromium.new_context(
            base_url=live_server.url, locale="en-US", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:
    """Keep a picture of what the user saw, for people reviewing a run."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page, email: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()


def switch_to_chinese(page) -> None:
    """The user menu's 简体中文, as a Chinese-speaking user switches; ends on the Overview in Chinese."""
    page.locator("#user-menu").click()
    page.get_by_role("button", name="简体中文").click()
    page.get_by_role("link", name="概览").wait_for()


def sign_up(page, *, name: str, email: str, password: str, account: str) -> None:
    """The sign-up form from the landing page, as a newcomer fills it in; ends on the Overview."""
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    page.get_by_label("Account name").fill(account)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Overview").wait_for()
