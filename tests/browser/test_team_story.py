"""The seed's story on the pages alone (issue 17): the owner signs up and confirms, invites a
teammate who accepts from the email; the user makes and copies a trial key and sees no owner
controls; the owner keeps a card on file, goes to production and, once approved, makes a
production key and sees its secret once; the gateway's usage shows in the chart; the owner
opens last month's invoice, downloads its PDF and updates the payment method. The gateway is
the only one to use the API, as it does in life. A screenshot of each step is kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import snap
from tests.browser.test_public_pages import link_paths
from tests.browser.test_team_keys import create_key
from tests.conftest import PASSWORD, System
from tests.e2e.test_invoices import LAST_MONTH_DAY, down_since_last_month, run_scheduler, use
from tests.support import PRODUCTION_FORM, wait_until

OWNER, TEAMMATE = "olive.story@example.com", "uma.story@example.com"


def fill_card(page: Page, token: str, last4: str) -> None:
    page.get_by_label("Payment provider token or reference").fill(token)
    page.get_by_label("Card brand").select_option("visa")
    page.get_by_label("Last four digits").fill(last4)
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill(str(datetime.now(UTC).year + 2))
    page.get_by_label("Billing email").fill("billing@olive.example")
    page.get_by_role("button", name="Save payment method").click()
    expect(page.get_by_text(f"ending in {last4}").first).to_be_visible()


def key_made_and_revealed(page: Page, name: str, kind: str, reveal: str) -> str:
    """From any team page: make a key on the keys page, see it turn active, reveal it with the
    button named ``reveal``; its secret, as the page shows it."""
    page.get_by_role("link", name="API keys").click()
    create_key(page, name, kind)
    row = page.get_by_role("row", name=name)
    expect(row).to_contain_text("active")
    row.get_by_role("button", name=reveal).click()
    return page.get_by_label(f"Secret of {name}").input_value()


def test_the_seed_story_on_the_pages_alone(page: Page, browser: Browser, system: System) -> None:
    # The owner signs up and confirms the email from its link.
    page.goto("/sign-up")
    page.get_by_label("Your name").fill("Olive")
    page.get_by_label("Email").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    [verify] = link_paths(system, OWNER, "verify-email")
    page.goto(verify)
    page.get_by_role("button", name="Confirm my email").click()
    page.goto("/")
    page.get_by_role("link", name="Open your team").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    snap(page, "story-1-members")

    # "+ Invite": the teammate accepts from the email, in a browser of her own.
    page.get_by_label("Email").fill(TEAMMATE)
    page.get_by_label("Role", exact=True).select_option("user")
    page.get_by_role("button", name="Invite").click()
    [invitation] = link_paths(system, TEAMMATE, "invitations")
    uma = browser.new_context(base_url=str(system.http.base_url)).new_page()
    try:
        uma.goto(invitation)
        uma.get_by_label("Your name").fill("Uma")
        uma.get_by_label("Password").fill(PASSWORD)
        uma.get_by_role("button", name=re.compile("Accept and join")).click()
        uma.goto("/team/members")
        expect(uma.get_by_role("row", name=re.compile("^Olive olive.story"))).to_be_visible()
        # A user sees no owner controls.
        expect(uma.get_by_role("button", name="Invite")).to_have_count(0)
        expect(uma.get_by_role("link", name="Billing")).to_have_count(0)
        snap(uma, "story-2-user-members")

        # The user makes a trial key and copies it.
        uma.context.grant_permissions(["clipboard-read", "clipboard-write"])
        secret = key_made_and_revealed(uma, "laptop", "Trial", "Reveal laptop")
        uma.get_by_role("button", name="Copy the secret").click()
        assert uma.evaluate("navigator.clipboard.readText()") == secret
        snap(uma, "story-3-trial-key")
    finally:
        uma.context.close()

    # The owner keeps a card on file and goes to production.
    page.get_by_role("link", name="Billing").click()
    fill_card(page, "tok_story_1", "4242")
    page.get_by_role("link", name="Go to Production").click()
    page.get_by_label("Company name").fill(PRODUCTION_FORM["company_name"])
    page.get_by_label("Website").fill(PRODUCTION_FORM["website"])
    page.get_by_label("Use case").fill(PRODUCTION_FORM["use_case"])
    page.get_by_label("Expected requests a month").fill(
        str(PRODUCTION_FORM["expected_monthly_requests"])
    )
    page.get_by_label("Contact email").fill(PRODUCTION_FORM["contact_email"])
    page.get_by_label("I accept the terms of production use").check()
    page.get_by_role("button", name="Submit the application").click()
    expect(page.get_by_role("status")).to_contain_text("Your application is submitted")

    def approved() -> bool:
        page.reload()
        return page.locator("#production-status").inner_text() == "Approved"

    wait_until(approved, what="the application approved")
    snap(page, "story-4-approved")

    # Once approved: a production key, its secret shown once.
    live = key_made_and_revealed(page, "gateway", "Production", "Show the secret of gateway (once)")
    expect(page.get_by_text("You will not see this again")).to_be_visible()
    snap(page, "story-5-production-key")
    page.reload()
    expect(page.get_by_label("Secret of gateway")).to_have_count(0)

    # The gateway records usage with the key; the chart shows it.
    use(system, live, "story-1", "teamkeys-large", 1_000_000, 100_000)
    page.get_by_role("link", name="Usage").click()
    day = LAST_MONTH_DAY.date().isoformat()
    page.get_by_role("textbox", name=re.compile("^From")).fill(day)
    page.get_by_role("textbox", name=re.compile("^To")).fill(datetime.now(UTC).date().isoformat())
    page.get_by_role("button", name="Show usage").click()
    expect(page.get_by_role("img", name=re.compile("^Calls per day"))).to_be_visible()
    for chart, amount in (("calls", "1 call"), ("tokens", "1,100,000 tokens")):
        # The day's bar for the gateway's call: drawn, and titled with its day, model and kind.
        bar = page.locator(f"#chart-{chart} g.day rect").filter(
            has_text=f"{day}: teamkeys-large · production, {amount}"
        )
        expect(bar).to_have_count(1)
        assert float(bar.get_attribute("height") or 0) > 0, chart
    expect(page.get_by_role("cell", name="teamkeys-large").first).to_be_visible()
    snap(page, "story-6-usage")

    # Last month's invoice: opened, its PDF downloaded; then the payment method updated.
    down_since_last_month(system)  # as if the scheduler now caught up on last month
    run_scheduler(system)

    def invoice_listed() -> bool:
        page.goto("/team/billing")
        return (
            page.get_by_role("link", name=re.compile(LAST_MONTH_DAY.strftime("%Y-%m"))).count() > 0
        )

    wait_until(invoice_listed, what="last month's invoice on the billing page")
    page.get_by_role("link", name=re.compile(LAST_MONTH_DAY.strftime("%Y-%m"))).first.click()
    expect(page.get_by_role("row", name=re.compile("^teamkeys-large 1 "))).to_be_visible()
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download PDF").click()
    path = downloaded.value.path()
    assert path is not None and path.read_bytes().startswith(b"%PDF")
    snap(page, "story-7-invoice")
    page.goto("/team/billing")
    fill_card(page, "tok_story_2", "1881")
    snap(page, "story-8-payment-method")
