"""The interactive API docs in Chromium with no way out to the internet: every request to
another host is aborted (as on a machine offline), and the pages still render the API, under a
Content-Security-Policy that lets nothing else in."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Route

from tests.browser.conftest import snap
from tests.conftest import System

#: The bundles are large (1 to 1.5 MB) and the suite runs on every CPU: room to load them.
RENDERED = 30_000


def offline(page: Page, system: System) -> tuple[list[str], list[str]]:
    """Abort every request that leaves the system's own host. The aborted addresses, and the
    page's console errors."""
    own = urlsplit(str(system.http.base_url)).netloc
    elsewhere: list[str] = []
    errors: list[str] = []

    def route(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.route("**/*", route)
    page.on("console", console)
    return elsewhere, errors


def test_swagger_ui_renders_the_api_offline(page: Page, system: System) -> None:
    elsewhere, errors = offline(page, system)
    page.goto("/docs")
    page.get_by_text("/v1/signup", exact=True).first.wait_for(timeout=RENDERED)
    assert page.locator(".opblock").count() > 50  # every operation
    snap(page, "api-docs-swagger-ui")
    assert elsewhere == [] and errors == []  # its inline start script is allowed by digest


def test_redoc_renders_the_api_offline(page: Page, system: System) -> None:
    elsewhere, errors = offline(page, system)
    page.goto("/redoc")
    page.get_by_text("The process is up.").first.wait_for(timeout=RENDERED)  # GET /healthz
    assert page.get_by_text("/v1/signup").count() > 0
    # (No full-page screenshot: ReDoc's one page holds every operation, too tall to take.)
    assert elsewhere == []
    # Its "by Redocly" logo would come from a CDN: the policy refuses it, and it is hidden.
    assert all("cdn.redoc.ly" in error for error in errors), errors
