"""The web console in a real browser: Playwright driving Chromium, headless, against a whole
running system (``system``). Without a browser these tests skip, and fail under CI=true.

Each test finds controls by their labels and roles, as a person does, and may save a
screenshot of a page with :func:`snap` into ``var/screenshots/`` (or
``TEAMKEYS_SCREENSHOTS``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import System
from tests.support import missing_service

CHROMIUM = os.environ.get("TEAMKEYS_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("TEAMKEYS_SCREENSHOTS", Path(__file__).parents[2] / "var" / "screenshots")
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium at {CHROMIUM} (apt-get install -y chromium) with Playwright")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, system: System) -> Iterator[Page]:
    """A fresh browser profile (no cookies) on the running system's site."""
    context = browser.new_context(base_url=str(system.http.base_url))
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def snap(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``<name>.png`` and say where."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
