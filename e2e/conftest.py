"""Playwright fixtures for the browser tests.

One headless Chromium (Debian's ``/usr/bin/chromium``, never a Playwright download) serves the whole
session; each test gets a fresh browser context, so cookies and sessions never leak between tests.
When a test fails, a screenshot and the page's HTML are saved to ``e2e/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio event loop in this thread; Django would otherwise refuse
# the ORM calls the tests make (SynchronousOnlyOperation). Must be set before any DB access.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]
ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
DEFAULT_TIMEOUT_MS = 15_000


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.skip(
            f"Browser tests need Chromium at {CHROMIUM_PATH} (run `make chromium`, or "
            "`apt-get install chromium`); Playwright's own browser download is not used."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server, request):
    """A page in a fresh browser context whose relative URLs resolve against the live server."""
    context = browser.new_context(base_url=live_server.url, locale="en-US", timezone_id="Asia/Singapore")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACTS_DIR / f"{name}.png"), full_page=True)
            (ARTIFACTS_DIR / f"{name}.html").write_text(page.content(), encoding="utf-8")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"e2e: could not save failure artifacts for {request.node.nodeid}: {exc}")
        else:
            print(f"e2e: failure screenshot and HTML saved to {ARTIFACTS_DIR / name}.{{png,html}}")
    context.close()
