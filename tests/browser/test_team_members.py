"""The team console's members, invitations, audit events and account pages in a browser: an
owner invites on the page and the invitee accepts from the real email; the owner changes the
role and removes; a user sees no owner control and no audit events; the last owner cannot
leave and is told why; a person changes the password and signs out everywhere else."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import snap
from tests.browser.test_public_pages import link_paths
from tests.conftest import PASSWORD, System
from tests.support import wait_until

NEW_PASSWORD = "a brand new passphrase"


def sign_in(page: Page, person: dict[str, Any], then: str = "/team/members") -> None:
    page.goto(then)  # signed out: sent to sign in, and back here after
    page.get_by_label("Email").fill(person["account"]["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def member(page: Page, name: str) -> Locator:
    """The members table's row of ``name``."""
    return page.locator("table.members").get_by_role("row", name=name)


def test_an_owner_invites_changes_the_role_and_removes(
    page: Page, browser: Browser, system: System
) -> None:
    olivia = system.sign_up("Olivia")
    team = olivia["team"]
    sign_in(page, olivia)
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    snap(page, "team-members")

    page.get_by_label("Email").fill("ivan.members@example.com")
    page.get_by_label("Role", exact=True).select_option("user")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation is on its way")
    invitations = page.locator("#invitations")
    expect(invitations).to_contain_text("ivan.members@example.com")
    snap(page, "team-members-invited")

    [link] = link_paths(system, "ivan.members@example.com", "invitations")
    invitee = browser.new_context(base_url=str(system.http.base_url)).new_page()
    invitee.goto(link)
    invitee.get_by_label("Your name").fill("Ivan")
    invitee.get_by_label("Password").fill(PASSWORD)
    invitee.get_by_role("button", name=f"Accept and join {team['name']}").click()
    expect(invitee.get_by_text(f"You are a user of {team['name']}")).to_be_visible()
    invitee.context.close()

    page.reload()
    ivan = member(page, "Ivan")
    expect(ivan).to_contain_text("ivan.members@example.com")
    expect(ivan).to_contain_text("User")
    expect(invitations).to_contain_text("Accepted")

    page.get_by_label("Role of Ivan").select_option("owner")
    page.get_by_role("button", name="Change role of Ivan").click()
    expect(page.get_by_role("status")).to_contain_text("The role is changed")
    expect(member(page, "Ivan")).to_contain_text("Owner")

    page.get_by_role("button", name="Remove Ivan").click()
    expect(page.get_by_role("status")).to_contain_text("The member is removed")
    expect(member(page, "Ivan")).to_have_count(0)
    snap(page, "team-members-removed")

    page.get_by_role("link", name="Audit events").click()
    expect(page.get_by_role("heading", name="Audit events")).to_be_visible()
    rows = page.locator("table.events tbody tr")
    expect(rows.first).to_contain_text("member.removed")  # newest first
    expect(page.locator("table.events")).to_contain_text("member.role_changed")
    snap(page, "team-events")


def test_an_owner_revokes_an_invitation(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    sign_in(page, olivia)
    page.get_by_label("Email").fill("rita.members@example.com")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation is on its way")
    link_paths(system, "rita.members@example.com", "invitations")

    def sent() -> bool:  # the worker marks it sent just after the mail server took it
        page.reload()
        return "Sent" in page.locator("#invitations").inner_text()

    wait_until(sent, what="the invitation marked sent")
    page.get_by_role("button", name="Revoke invitation to rita.members@example.com").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation is revoked")
    expect(page.locator("#invitations")).to_contain_text("Revoked")
    snap(page, "team-members-invitations")


def test_a_failed_invitation_shows_the_mail_servers_reason_and_is_resent(
    page: Page, system: System
) -> None:
    olivia = system.sign_up("Olivia")
    address = "nobody.members@example.com"
    system.sink.refuse_with, system.sink.refuse_only = (550, "5.1.1 no such mailbox"), {address}
    try:
        sign_in(page, olivia)
        page.get_by_label("Email").fill(address)
        page.get_by_role("button", name="Invite").click()
        # reload only once the form's own navigation is over, or the two navigations race
        expect(page.get_by_role("status")).to_contain_text("The invitation is on its way")
        row = page.locator("#invitations").get_by_role("row", name=address)

        def failed() -> bool:
            page.reload()
            return "Failed" in row.inner_text()

        wait_until(failed, what="the invitation to fail")
        expect(row).to_contain_text("550 5.1.1 no such mailbox")
        snap(page, "team-members-invitation-failed")
    finally:
        system.sink.refuse_with, system.sink.refuse_only = None, None
    row.get_by_role("button", name=f"Resend to {address}").click()
    expect(page.get_by_role("status")).to_contain_text("The invitation is sent again")
    link_paths(system, address, "invitations")

    def sent() -> bool:  # the worker marks it sent just after the mail server took it
        page.reload()
        return "Sent" in row.inner_text()

    wait_until(sent, what="the resent invitation marked sent")


def test_a_user_sees_no_owner_controls_and_no_audit_events(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    uma = system.join(olivia["team"]["id"], "Uma")
    sign_in(page, uma)
    expect(member(page, "Olivia")).to_contain_text("Owner")
    expect(page.get_by_role("button", name="Invite")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove Olivia")).to_have_count(0)
    expect(page.get_by_role("button", name="Change role of Olivia")).to_have_count(0)
    expect(page.get_by_role("link", name="Audit events")).to_have_count(0)
    snap(page, "team-members-user")

    answer = page.goto("/team/events")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    page.goto("/team/members")
    page.get_by_role("button", name="Leave the team").click()
    expect(page.get_by_role("status")).to_contain_text("You left your team")
    expect(member(page, "Uma")).to_contain_text("Owner")  # her own team now
    expect(member(page, "Olivia")).to_have_count(0)


def test_the_last_owner_cannot_leave_and_is_told_why(page: Page, system: System) -> None:
    olivia = system.sign_up("Olivia")
    sign_in(page, olivia)
    with page.expect_response(lambda r: r.url.endswith("/team/members/leave")) as left:
        page.get_by_role("button", name="Leave the team").click()
    assert left.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text(
        "The last owner cannot leave or be removed: make someone else an owner first."
    )
    expect(page.get_by_role("button", name="Leave the team")).to_have_accessible_description(
        "The last owner cannot leave or be removed: make someone else an owner first."
    )
    snap(page, "team-members-last-owner")

    page.goto("/team/members")
    page.get_by_label("Role of Olivia").select_option("user")
    with page.expect_response(lambda r: "/role" in r.url) as demoted:
        page.get_by_role("button", name="Change role of Olivia").click()
    assert demoted.value.status == 409
    expect(page.get_by_role("alert")).to_contain_text("A team needs at least one owner")


def test_a_person_changes_the_password_and_signs_out_everywhere_else(
    page: Page, system: System
) -> None:
    olivia = system.sign_up("Olivia")  # its session: another device, over the API
    elsewhere = olivia["headers"]
    sign_in(page, olivia, then="/account")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(olivia["account"]["email"])
    expect(page.locator("table.sessions tbody tr")).to_have_count(2)
    snap(page, "team-account")

    page.get_by_label("Current password").fill("not the password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/account/password")) as wrong:
        page.get_by_role("button", name="Change password").click()
    assert wrong.value.status == 401
    expect(page.get_by_role("alert")).to_contain_text("The current password is wrong.")
    assert system.http.get("/v1/me", headers=elsewhere).status_code == 200

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    assert system.http.get("/v1/me", headers=elsewhere).status_code == 401
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)

    other = system.http.post(
        "/v1/sessions",
        json={"email": olivia["account"]["email"], "password": NEW_PASSWORD},
    )
    assert other.status_code == 201, other.text
    other_headers = {"Authorization": f"Bearer {other.json()['token']}"}
    page.reload()
    expect(page.locator("table.sessions tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out everywhere else")
    expect(page.locator("table.sessions tbody tr")).to_have_count(1)
    assert system.http.get("/v1/me", headers=other_headers).status_code == 401
    page.goto("/team/members")  # this browser is still signed in
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    snap(page, "team-account-signed-out-elsewhere")
