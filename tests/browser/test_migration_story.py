"""A migration from end to end in the browser: the person answers the emailed request on its
page, a support agent approves it in the console, and the person is in the new team."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import snap
from tests.browser.test_public_pages import link_paths, queued
from tests.browser.test_support_console import AGENT, sign_in
from tests.conftest import System
from tests.e2e.conftest import AGENT_PASSWORD, run_add_agent
from tests.e2e.test_migrations import open_ticket
from tests.support import wait_until


def test_consent_on_the_page_then_approval_in_the_console_moves_the_person(
    page: Page, browser: Browser, system: System
) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    ticket_id = queued(open_ticket(system, carol, dave["account"]["email"]))
    [link] = link_paths(system, dave["account"]["email"], "migration-consents")

    page.goto(link)  # Dave, from the email
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name="Request accepted")).to_be_visible()

    assert run_add_agent(system, AGENT, "Sam") == 0
    desk = browser.new_context(base_url=str(system.http.base_url)).new_page()  # Sam's browser
    try:
        sign_in(desk, AGENT, AGENT_PASSWORD, then="/support/migration-tickets")
        desk.get_by_role("link", name=f"Dave <{dave['account']['email']}>").click()
        expect(desk.get_by_text("Given by the account holder")).to_be_visible()
        desk.get_by_label("Note (optional)").fill("Consent on file.")
        desk.get_by_role("button", name="Approve the move").click()
        expect(desk.get_by_role("status")).to_contain_text("Approved")
        snap(desk, "migration-story-approved")
    finally:
        desk.context.close()

    def in_carols_team() -> bool:
        me = system.http.get("/v1/me", headers=dave["headers"]).json()
        return bool(me["team"] and me["team"]["id"] == carol["team"]["id"])

    wait_until(in_carols_team, what=f"Dave in Carol's team after ticket {ticket_id}")
