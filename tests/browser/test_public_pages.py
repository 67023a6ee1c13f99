"""The public pages a person meets through the emails' links, in a real browser: signing up
and confirming the email, a forgotten password, accepting an invitation, answering a
migration request; each link read back from the email that carried it."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from domain.clock import utcnow
from domain.models import Account, AccountLink, Invitation, MigrationTicket
from tests.browser.conftest import snap
from tests.conftest import PASSWORD, System
from tests.e2e.test_invitations import invite
from tests.e2e.test_migrations import open_ticket
from tests.support import text_body, to, wait_until

NEW_PASSWORD = "a brand new passphrase"


def link_paths(system: System, address: str, kind: str, count: int = 1) -> list[str]:
    """The paths of the ``kind`` links (``verify-email``, ``invitations``…) in the first
    ``count`` emails to ``address``, to open on the test server."""
    pattern = re.compile(rf"https://app\.teamkeys\.test(/{kind}/[A-Za-z0-9_\-]+)")

    def found() -> list[str]:
        paths = []
        for message in system.sink.messages:
            if to(address)(message) and (match := pattern.search(text_body(message))):
                paths.append(match.group(1))
        return paths if len(paths) >= count else []

    paths: list[str] = wait_until(found, what=f"{count} {kind} email(s) to {address}")
    return paths


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_up(page: Page, name: str, email: str, password: str = PASSWORD) -> None:
    page.goto("/sign-up")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create my account").click()


def ask_for_a_reset_link(page: Page, email: str) -> None:
    page.goto("/forgot-password")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account exists for that email")


def expect_beside(page: Page, label: str, message: str) -> None:
    """The control labelled ``label`` is marked invalid and described by ``message`` (its
    ``aria-describedby`` points at the message shown beside it), as a screen reader says it."""
    control = page.get_by_label(label, exact=True)
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_have_accessible_description(re.compile(re.escape(message)))
    described = (control.get_attribute("aria-describedby") or "").split()
    assert any(message in page.locator(f"#{id}").inner_text() for id in described), described


def expect_link_gone(page: Page, link: str, why: str, shot: str) -> None:
    """The emailed link's page answers 410 and says ``why`` it cannot be used."""
    opened = page.goto(link)
    assert opened is not None and opened.status == 410
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text(why)
    snap(page, shot)


def expire(system: System, model: type[AccountLink | Invitation | MigrationTicket]) -> None:
    """Every ``model`` row's link ran out a second ago (the test's system holds only ours)."""
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(update(model).values(expires_at=utcnow() - timedelta(seconds=1)))
        uow.commit()


def test_a_person_signs_up_confirms_the_email_and_resets_a_forgotten_password(
    page: Page, system: System
) -> None:
    email = "grace.web@example.com"
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill("Grace")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 10 characters")
    expect_beside(page, "Password", "Password must be at least 10 characters long.")
    expect(page.get_by_label("Your name")).to_have_value("Grace")
    snap(page, "sign-up-refused")
    page.get_by_label("Password").fill(PASSWORD)
    snap(page, "sign-up")
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_text(f"We sent a link to {email}")).to_be_visible()
    snap(page, "sign-up-check-email")
    page.goto("/")
    expect(page.get_by_text("Confirm your email address")).to_be_visible()

    [verify] = link_paths(system, email, "verify-email")
    scanned = system.http.get(verify)  # a mail scanner opens the link: nothing is spent
    assert scanned.status_code == 200 and "Confirm my email" in scanned.text
    page.goto(verify)
    snap(page, "verify-email")
    page.get_by_role("button", name="Confirm my email").click()
    expect(page.get_by_role("heading", name="Your email is confirmed")).to_be_visible()
    snap(page, "verify-email-welcome")
    page.get_by_role("link", name="Go to the start page").click()
    expect(page.get_by_text("Signed in as Grace")).to_be_visible()
    expect(page.get_by_text("You are an owner of Grace's Team")).to_be_visible()
    expect(page.get_by_text("Confirm your email address")).to_have_count(0)
    with system.runtime.db.unit_of_work() as uow:
        account = uow.session.scalar(select(Account).where(Account.email == email))
        assert account is not None and account.email_verified_at is not None

    # The link works once: opened again, its page says why it cannot be used (410).
    expect_link_gone(page, verify, "This link was used already", "verify-email-used")
    expect(page.get_by_role("button", name="Confirm my email")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    snap(page, "forgot-password")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("status")).to_contain_text("If an account exists for that email")
    snap(page, "forgot-password-sent")

    [reset] = link_paths(system, email, "reset-password")
    page.goto(reset)
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 10 characters")
    expect_beside(page, "New password", "Password must be at least 10 characters long.")
    snap(page, "reset-password-refused")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    snap(page, "reset-password")
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    snap(page, "reset-password-done")
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Email or password is wrong.")
    expect_beside(page, "Email", "Email or password is wrong.")
    expect_beside(page, "Password", "Email or password is wrong.")
    sign_in(page, email, NEW_PASSWORD)
    expect(page.get_by_text("Signed in as Grace")).to_be_visible()

    expect_link_gone(page, reset, "This link was used already", "reset-password-used")
    expect(page.get_by_label("New password")).to_have_count(0)


def test_each_refusal_of_the_sign_up_form_is_shown_beside_its_field(
    page: Page, system: System
) -> None:
    """The domain's refusals, with the API's words, tied to the field each is about."""
    taken = system.sign_up("Ada")["account"]["email"]
    for name, email, password, label, message in (
        ("Grace", "grace.fields@example.com", "short", "Password", "at least 10 characters"),
        ("Grace https://evil.example", "grace.fields@example.com", PASSWORD, "Your name", "link"),
        ("Grace", taken, PASSWORD, "Email", "already"),
    ):
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            sign_up(page, name, email, password)
        assert posted.value.status in (409, 422), posted.value.status
        expect(page.get_by_role("alert")).to_contain_text(message)
        expect_beside(page, label, message)
        others = {"Your name", "Email", "Password"} - {label}
        for other in others:
            expect(page.get_by_label(other, exact=True)).not_to_have_attribute(
                "aria-invalid", "true"
            )
    snap(page, "sign-up-email-taken")


def test_expired_account_links_show_the_expired_page(page: Page, system: System) -> None:
    email = "late.web@example.com"
    sign_up(page, "Late", email)
    [verify] = link_paths(system, email, "verify-email")
    page.get_by_role("button", name="Sign out").click()
    ask_for_a_reset_link(page, email)
    [reset] = link_paths(system, email, "reset-password")
    expire(system, AccountLink)

    expect_link_gone(page, verify, "This link has expired", "verify-email-expired")
    expect(page.get_by_role("button", name="Confirm my email")).to_have_count(0)
    expect_link_gone(page, reset, "This link has expired", "reset-password-expired")
    expect(page.get_by_label("New password")).to_have_count(0)


def test_the_same_answer_whether_or_not_the_email_has_an_account(
    page: Page, system: System
) -> None:
    ask_for_a_reset_link(page, "nobody.here@example.com")


def test_a_new_verification_link_replaces_the_first(page: Page, system: System) -> None:
    email = "linus.web@example.com"
    sign_up(page, "Linus", email)
    link_paths(system, email, "verify-email")
    page.get_by_role("button", name="Send me a new link").click()
    expect(page.get_by_role("status")).to_contain_text("We sent you a new link")
    snap(page, "sign-up-new-link-sent")

    first, second = link_paths(system, email, "verify-email", count=2)
    page.goto(first)
    expect(page.get_by_role("alert")).to_contain_text("replaced by a newer one")
    page.goto(second)
    page.get_by_role("button", name="Confirm my email").click()
    expect(page.get_by_role("heading", name="Your email is confirmed")).to_be_visible()

    signed_out = system.http.get("/check-email")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/sign-in?next=%2Fcheck-email"
    assert system.http.get("/migration-consents/answered/approved").status_code == 404

    unknown = system.http.get("/verify-email/vfy_not-a-real-token")
    assert unknown.status_code == 410
    assert "never existed" in unknown.text
    page.goto("/verify-email/vfy_not-a-real-token")
    snap(page, "verify-email-unknown")


def queued(answer: httpx.Response) -> str:
    """The id of what the API took on (202): an invitation or a migration ticket, its email
    on its way."""
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def test_an_invitee_accepts_on_the_page_and_is_a_member(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    team = olivia["team"]
    queued(invite(system, olivia, "ivan.web@example.com"))
    [link] = link_paths(system, "ivan.web@example.com", "invitations")

    page.goto(link)
    expect(page.get_by_role("heading", name=f"Join {team['name']}")).to_be_visible()
    expect(page.get_by_text("Olivia", exact=False).first).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("ivan.web@example.com")
    expect(facts).to_contain_text("User")
    expect(facts).to_contain_text("Valid until")
    snap(page, "invitation")
    page.get_by_label("Your name").fill("Ivan www.ivan.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=f"Accept and join {team['name']}").click()
    expect_beside(page, "Your name", "Name must not contain a link")
    page.get_by_label("Your name").fill("Ivan")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name=f"Accept and join {team['name']}").click()
    expect_beside(page, "Password", "Password must be at least 10 characters long.")
    expect(page.get_by_label("Your name")).not_to_have_attribute("aria-invalid", "true")
    snap(page, "invitation-refused")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=f"Accept and join {team['name']}").click()
    expect(page.get_by_text("Signed in as Ivan")).to_be_visible()
    expect(page.get_by_text(f"You are a user of {team['name']}")).to_be_visible()
    snap(page, "invitation-accepted")

    members = system.http.get(f"/v1/teams/{team['id']}/members", headers=olivia["headers"])
    assert members.status_code == 200
    roles = {m["email"]: m["role"] for m in members.json()["items"]}
    assert roles["ivan.web@example.com"] == "user"

    expect_link_gone(page, link, "This invitation link is no longer valid", "invitation-used")


def test_a_revoked_invitation_link_says_why_it_cannot_be_used(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    invitation_id = queued(invite(system, olivia, "rita.web@example.com"))
    [link] = link_paths(system, "rita.web@example.com", "invitations")
    revoked = system.http.delete(
        f"/v1/teams/{olivia['team']['id']}/invitations/{invitation_id}",
        headers=olivia["headers"],
    )
    assert revoked.status_code == 204

    answer = httpx.get(f"{system.http.base_url}{link}")
    assert answer.status_code == 410
    assert answer.headers["cache-control"] == "no-store"
    expect_link_gone(page, link, "revoked", "invitation-revoked")


def test_an_expired_invitation_link_shows_the_expired_page(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    queued(invite(system, olivia, "tom.web@example.com"))
    [link] = link_paths(system, "tom.web@example.com", "invitations")
    expire(system, Invitation)
    expect_link_gone(page, link, "This invitation has expired", "invitation-expired")
    expect(page.get_by_label("Your name")).to_have_count(0)


def test_an_invitee_who_has_an_account_is_told_to_sign_in(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    queued(invite(system, olivia, "sam.web@example.com"))
    [link] = link_paths(system, "sam.web@example.com", "invitations")
    system.sign_up("Sam", email="sam.web@example.com")  # signed up on their own meanwhile

    page.goto(link)
    page.get_by_label("Your name").fill("Sam")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name=re.compile("Accept and join")).click()
    assert posted.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text("An account with this email exists already")
    expect(page.get_by_label("Your name")).to_have_value("Sam")
    snap(page, "invitation-account-exists")


def ticket_status(system: System, ticket_id: str) -> str:
    with system.runtime.db.unit_of_work() as uow:
        ticket = uow.session.get(MigrationTicket, ticket_id)
        assert ticket is not None
        return ticket.status


def test_a_person_accepts_a_migration_request_on_the_page(page: Page, system: System) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    dave_email = dave["account"]["email"]
    ticket_id = queued(open_ticket(system, carol, dave_email))
    [link] = link_paths(system, dave_email, "migration-consents")

    page.goto(link)
    expect(page.get_by_role("heading", name="Move your account to Carol's Team?")).to_be_visible()
    expect(page.get_by_text(carol["account"]["email"])).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Dave's Team")
    expect(page.get_by_text("You are the only member of Dave's Team")).to_be_visible()
    snap(page, "migration-consent")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_role("heading", name="Request accepted")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("support agent now reviews")
    snap(page, "migration-consent-accepted")
    assert ticket_status(system, ticket_id) == "awaiting_review"

    expect_link_gone(page, link, "it was used already", "migration-consent-used")


def test_a_person_declines_a_migration_request_on_the_page(page: Page, system: System) -> None:
    carol = system.sign_up("Carol")
    erin = system.sign_up("Erin")
    system.join(erin["team"]["id"], "Frank")  # Erin's team has another member: it stays
    ticket_id = queued(open_ticket(system, carol, erin["account"]["email"]))
    [link] = link_paths(system, erin["account"]["email"], "migration-consents")

    page.goto(link)
    expect(page.get_by_text("You are the only owner of Erin's Team")).to_be_visible()
    snap(page, "migration-consent-sole-owner")
    page.get_by_role("button", name="Decline").click()
    expect(page.get_by_role("heading", name="Request declined")).to_be_visible()
    snap(page, "migration-consent-declined")
    assert ticket_status(system, ticket_id) == "declined"


def test_an_expired_migration_request_shows_the_expired_page(page: Page, system: System) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    ticket_id = queued(open_ticket(system, carol, dave["account"]["email"]))
    [link] = link_paths(system, dave["account"]["email"], "migration-consents")
    expire(system, MigrationTicket)
    expect_link_gone(page, link, "This request has expired", "migration-consent-expired")
    expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    assert ticket_status(system, ticket_id) == "awaiting_consent"
