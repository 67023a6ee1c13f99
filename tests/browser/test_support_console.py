"""The support console in a browser: an agent settles a migration ticket, rejects a production
application in manual review, re-sends a dead email and reads the invoice runs, on the pages;
nobody else sees it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import snap
from tests.conftest import PASSWORD, System
from tests.e2e.conftest import AGENT_PASSWORD, a_dead_email, run_add_agent
from tests.e2e.test_invoices import PERIOD, down_since_last_month, run_scheduler, use
from tests.e2e.test_migrations import consented_ticket
from tests.support import CARD, PRODUCTION_FORM, to, wait_until

AGENT = "sam@support.teamkeys.test"


def sign_in(page: Page, email: str, password: str, then: str = "/support") -> None:
    page.goto(then)  # signed out: sent to sign in, and back here after
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def agent_page(page: Page, system: System) -> Page:
    """The browser of Sam, a support agent, signed in on the console's start page."""
    assert run_add_agent(system, AGENT, "Sam") == 0
    sign_in(page, AGENT, AGENT_PASSWORD)
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()
    return page


def test_an_agent_approves_a_migration_ticket_and_the_account_moves(
    agent_page: Page, system: System
) -> None:
    page = agent_page
    carol = system.sign_up("Carol")
    cleo = system.join(carol["team"]["id"], "Cleo")
    dave = system.sign_up("Dave")
    ticket_id = consented_ticket(system, carol, dave)

    page.reload()
    snap(page, "support-home")
    page.get_by_role("link", name="Migration tickets").click()
    queue = page.get_by_role("navigation", name="Ticket status")
    expect(queue.get_by_role("link", name="Awaiting review (1)")).to_have_attribute(
        "aria-current", "page"
    )
    queue.get_by_role("link", name="Awaiting consent (0)").click()
    expect(page.get_by_text("No tickets awaiting consent.")).to_be_visible()
    queue.get_by_role("link", name="Awaiting review (1)").click()
    snap(page, "support-tickets")
    page.get_by_role("link", name=f"Dave <{dave['account']['email']}>").click()

    expect(
        page.get_by_role("heading", name=f"Current team: {dave['team']['name']}")
    ).to_be_visible()
    expect(page.get_by_text("Dave is the sole owner")).to_be_visible()
    expect(
        page.get_by_role("heading", name=f"Requesting team: {carol['team']['name']}")
    ).to_be_visible()
    for team, people in ((dave, [dave]), (carol, [carol, cleo])):
        members = page.get_by_role("table", name=f"Members of {team['team']['name']}")
        expect(members.get_by_role("row")).to_have_count(1 + len(people))
        for person in people:
            expect(members).to_contain_text(person["account"]["email"])
    expect(page.get_by_text("Given by the account holder")).to_be_visible()
    expect(page.get_by_text("our new lead").first).to_be_visible()
    snap(page, "support-ticket")
    page.get_by_label("Note (optional)").fill("Carol's team asked; Dave agreed.")
    page.get_by_role("button", name="Approve the move").click()

    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page).to_have_url(re.compile(rf"/support/migration-tickets/{ticket_id}\?done=approved$"))

    def moved() -> bool:
        me = system.http.get("/v1/me", headers=dave["headers"]).json()
        return bool(me["team"] and me["team"]["id"] == carol["team"]["id"])

    wait_until(moved, what="Dave in Carol's team")
    page.reload()
    expect(page.get_by_text("completed").first).to_be_visible()
    expect(page.get_by_role("button", name="Approve the move")).to_have_count(0)


def test_an_approval_refused_by_the_domain_shows_its_message_and_status(
    agent_page: Page, system: System
) -> None:
    """A second tab approves an already settled ticket: the API's 409 and its message."""
    carol, dave = system.sign_up("Carol"), system.sign_up("Dave")
    ticket_id = consented_ticket(system, carol, dave)
    page = agent_page
    page.goto(f"/support/migration-tickets/{ticket_id}")
    stale = page.context.new_page()
    stale.goto(f"/support/migration-tickets/{ticket_id}")
    page.get_by_label("Reason").fill("Not without the account holder on the phone.")
    page.get_by_role("button", name="Reject the ticket").click()
    expect(page.get_by_role("status")).to_contain_text("Rejected")

    with stale.expect_response(lambda r: r.request.method == "POST") as answered:
        stale.get_by_role("button", name="Approve the move").click()
    assert answered.value.status == 409
    expect(stale.get_by_role("alert")).to_contain_text(
        "This ticket is rejected; only a ticket awaiting review can be approved."
    )
    snap(stale, "support-ticket-refused")


def manual_review(system: System) -> dict[str, Any]:
    """An owner's application with a disposable contact address: handed to an agent."""
    olive = system.sign_up("Olive")
    team = f"/v1/teams/{olive['team']['id']}"
    assert system.http.put(f"{team}/payment-method", json=CARD, headers=olive["headers"]).is_success
    form = PRODUCTION_FORM | {"accept_terms": True, "contact_email": "cto@mailinator.com"}
    applied = system.http.put(f"{team}/production-application", json=form, headers=olive["headers"])
    assert applied.status_code == 202, applied.text

    def status() -> str:
        got = system.http.get(f"{team}/production-application", headers=olive["headers"])
        return str(got.json()["status"])

    wait_until(lambda: status() == "manual_review", what="the application in manual review")
    olive["status"] = status
    return olive


def from_console(page: Page, link: str) -> Page:
    """The console's start page again (its counts as they are now), then its ``link``."""
    page.reload()
    page.get_by_role("link", name=link).click()
    return page


def test_an_agent_rejects_a_production_application_with_a_reason(
    agent_page: Page, system: System
) -> None:
    olive = manual_review(system)
    page = from_console(agent_page, "Production reviews")
    company = PRODUCTION_FORM["company_name"]
    review = page.get_by_role("region", name=company)
    expect(review.get_by_text("disposable email domain")).to_be_visible()
    snap(page, "support-production-reviews")
    page.get_by_role("button", name=f"Reject {company}").click()
    expect(page.get_by_role("alert")).to_be_visible()  # a reason is required (422)
    page.get_by_label(f"Reason for {company}").fill("We could not verify the company.")
    page.get_by_role("button", name=f"Reject {company}").click()

    expect(page.get_by_role("status")).to_contain_text("rejected")
    expect(page.get_by_text("No application is waiting for a manual review.")).to_be_visible()
    assert olive["status"]() == "rejected"
    reasons = system.http.get(
        f"/v1/teams/{olive['team']['id']}/production-application", headers=olive["headers"]
    ).json()["reasons"]
    assert reasons == ["We could not verify the company."]


def test_an_agent_approves_a_production_application_and_the_team_is_approved(
    agent_page: Page, system: System
) -> None:
    olive = manual_review(system)
    team = f"/v1/teams/{olive['team']['id']}"
    assert system.http.get(team, headers=olive["headers"]).json()["production_status"] != (
        "approved"
    )
    page = from_console(agent_page, "Production reviews")
    company = PRODUCTION_FORM["company_name"]
    page.get_by_label(f"Reason for {company}").fill("We called the company: it is real.")
    page.get_by_role("button", name=f"Approve {company}").click()

    expect(page.get_by_role("status")).to_contain_text("The application is approved")
    expect(page.get_by_text("No application is waiting for a manual review.")).to_be_visible()
    snap(page, "support-production-review-approved")
    assert olive["status"]() == "approved"
    assert system.http.get(team, headers=olive["headers"]).json()["production_status"] == (
        "approved"
    )
    live = system.http.post(
        f"{team}/api-keys", json={"name": "live", "kind": "production"}, headers=olive["headers"]
    )
    assert live.status_code == 202, live.text  # production keys are the team's now


def test_an_agent_resends_a_dead_email_and_it_is_delivered(
    agent_page: Page, system: System
) -> None:
    address = a_dead_email(system)
    page = from_console(agent_page, "1 dead")
    tabs = page.get_by_role("navigation", name="Email status")
    expect(tabs.get_by_role("link", name="Dead (1)")).to_have_attribute("aria-current", "page")
    row = page.get_by_role("row").filter(has_text=address)
    expect(row).to_contain_text("role changed")
    expect(row).to_contain_text("421")
    snap(page, "support-emails")
    row.get_by_role("button", name="Re-send").click()

    expect(page.get_by_role("status")).to_contain_text("queued to be sent again")
    system.sink.wait_for(to(address))
    expect(tabs.get_by_role("link", name="Dead (0)")).to_be_visible()


def test_the_console_is_for_agents_only(page: Page, system: System) -> None:
    page.goto("/support/migration-tickets")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fsupport%2Fmigration-tickets$"))
    ada = system.sign_up("Ada")
    page.get_by_label("Email").fill(ada["account"]["email"])
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/support/migration-tickets")) as seen:
        page.get_by_role("button", name="Sign in").click()
    assert seen.value.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    for path in (
        "/support",
        "/support/emails",
        "/support/production-reviews",
        "/support/invoice-runs",
    ):
        assert page.goto(path).status == 404  # type: ignore[union-attr]


def test_an_agent_sees_the_invoice_runs_with_their_totals(agent_page: Page, system: System) -> None:
    olive = system.sign_up("Olive")
    system.approve_for_production(olive["team"]["id"])
    live = system.key_secret(olive, "production")
    use(system, live, "runs-1", "teamkeys-large", 1_000_000, 100_000)  # 450 cents, last month
    down_since_last_month(system)
    run_scheduler(system)
    page = agent_page

    def finished() -> bool:
        page.goto("/support/invoice-runs")
        return "running" not in page.locator("table").inner_text()

    wait_until(finished, what="the run to finish")
    row = page.get_by_role("row", name=re.compile(f"^{PERIOD} "))
    expect(row).to_contain_text("the scheduler")
    expect(row).to_contain_text("4.50 USD")
    expect(page.get_by_text(re.compile(r"Next: \d{4}-\d{2}'s invoices, due"))).to_be_visible()
    snap(page, "support-invoice-runs")
