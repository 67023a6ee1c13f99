"""Signing in and out on the pages, and what every page holds to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Cookie, Page, expect

from infra.settings import Settings
from tests.browser.conftest import snap
from tests.conftest import PASSWORD, System, running_system
from tests.faulty_sink import FaultySink


def sign_in(page: Page, person: dict[str, Any]) -> None:
    """Sign ``person`` in on the sign-in page, as they would."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(person["account"]["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {person['account']['name']}")).to_be_visible()


def test_a_person_signs_in_from_the_start_page_and_out_again(page: Page, system: System) -> None:
    ada = system.sign_up("Ada")
    page.goto("/")
    snap(page, "start")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Email").fill(ada["account"]["email"])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Email or password is wrong.")
    snap(page, "sign-in-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {ada['account']['name']}")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out.")


def test_a_form_posted_from_another_site_is_refused(system: System) -> None:
    ada = system.sign_up("Ada")
    forged = system.http.post(
        "/sign-in", data={"email": ada["account"]["email"], "password": PASSWORD}
    )
    assert forged.status_code == 403
    assert "did not come from this site" in forged.text
    assert "__Host-tk_session" not in forged.cookies


def test_pages_are_never_cached_and_load_only_our_own_assets(system: System) -> None:
    answer = system.http.get("/sign-in")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "http" not in policy  # no other origin, no CDN
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert httpx.get(f"{system.http.base_url}/static/style.css").status_code == 200


def test_signing_in_works_from_the_keyboard_alone(page: Page, system: System) -> None:
    ada = system.sign_up("Ada")
    page.goto("/sign-in")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    page.get_by_label("Email").focus()
    page.keyboard.type(ada["account"]["email"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Signed in as {ada['account']['name']}")).to_be_visible()


def test_signing_in_works_with_javascript_off(browser: Browser, system: System) -> None:
    ada = system.sign_up("Ada")
    context = browser.new_context(base_url=str(system.http.base_url), java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, ada)
    finally:
        context.close()


def test_signing_in_again_ends_the_session_the_browser_held(page: Page, system: System) -> None:
    ada = system.sign_up("Ada")

    def session_cookie() -> str:
        sign_in(page, ada)
        [cookie] = [c for c in page.context.cookies() if c["name"] == "__Host-tk_session"]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
        return cookie["value"]

    first = session_cookie()
    second = session_cookie()
    assert first != second
    bearer = {"Authorization": f"Bearer {first}"}
    assert system.http.get("/v1/me", headers=bearer).status_code == 401
    page.get_by_role("button", name="Sign out").click()
    bearer = {"Authorization": f"Bearer {second}"}
    assert system.http.get("/v1/me", headers=bearer).status_code == 401


@pytest.fixture
def plain_http(settings: Settings, sink: FaultySink) -> Iterator[System]:
    """The system under a plain http public URL, as ``teamkeys dev`` serves a laptop."""
    plain = settings.model_copy(update={"public_url": "http://localhost:8000"})
    with running_system(plain, sink) as running:
        yield running


def expect_page_cookies(browser: Browser, system: System, prefix: str, secure: bool) -> None:
    """Signed in on the page, the browser holds the session and browser cookies named with
    ``prefix``, HttpOnly, SameSite=Lax, for the whole site and this host alone, Secure or not
    as ``secure``; signing out finds the session's cookie by that name and ends it."""
    ada = system.sign_up("Ada")
    context = browser.new_context(base_url=str(system.http.base_url))
    try:
        page = context.new_page()
        sign_in(page, ada)
        cookies: dict[str, Cookie] = {c.get("name", ""): c for c in context.cookies()}
        assert set(cookies) == {f"{prefix}tk_session", f"{prefix}tk_browser"}, cookies
        for cookie in cookies.values():
            assert cookie.get("secure") is secure, cookie
            assert cookie.get("httpOnly") and cookie.get("sameSite") == "Lax", cookie
            assert cookie.get("path") == "/" and cookie.get("domain") == "127.0.0.1", cookie
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("status")).to_contain_text("You are signed out.")
        assert f"{prefix}tk_session" not in {c.get("name") for c in context.cookies()}
    finally:
        context.close()


def test_cookies_under_https_are_secure_and_host_only(browser: Browser, system: System) -> None:
    assert system.runtime.settings.public_url.startswith("https://")
    expect_page_cookies(browser, system, "__Host-", secure=True)


def test_cookies_under_plain_http_are_neither_secure_nor_host_prefixed(
    browser: Browser, plain_http: System
) -> None:
    expect_page_cookies(browser, plain_http, "", secure=False)
