"""Every email the domain queues: one template folder per name, and a context its template
renders with (no database: the email functions take rows and give what to queue)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute

from domain import emails, models
from domain.emails import MemberChange, NewEmail, Template
from domain.models import Account, Role, Team, TicketStatus
from infra.mail.render import EmailRenderer, RenderedEmail, templates_root
from web.app import ROUTERS

EXPIRES = datetime(2026, 12, 5, 10, 0)
ALICE = Account(id="acc_alice", email="alice@example.com", name="Alice")
BOB = Account(id="acc_bob", email="bob@example.com", name="Bob")
CAROL = Account(id="acc_carol", email="carol@example.com", name="Carol")
OWNERS = [ALICE, BOB, CAROL]
ACME = Team(id="team_acme", name="Acme")
OLD = Team(id="team_old", name="Alice's Team")
EVENT = models.Event(id="evt_1")
LINK = models.AccountLink(id="lnk_1", account_id=ALICE.id, expires_at=EXPIRES)
KEY = models.ApiKey(id="key_1", name="gateway")
TICKET = models.MigrationTicket(
    id="mig_1", role="user", expires_at=EXPIRES, failure_reason="transfer ownership first"
)
INVITATION = models.Invitation(
    id="inv_1", email="dan@example.com", role="owner", rotation=2, expires_at=EXPIRES
)
INVOICE = models.Invoice(id="invc_1", period="2026-10")
#: Carol makes Bob an owner; Bob leaves.
PROMOTED = MemberChange(EVENT, ACME, member=BOB, actor=CAROL, owners=OWNERS)
LEFT = MemberChange(EVENT, ACME, member=BOB, actor=BOB, owners=OWNERS)

#: What each link email shows that is never stored: the link, added by the job at send time.
LINK_URLS = {
    Template.EMAIL_VERIFICATION: {"link_url": "https://teamkeys.example/verify-email/vfy_x"},
    Template.PASSWORD_RESET: {"link_url": "https://teamkeys.example/reset-password/rst_x"},
    Template.INVITATION: {"accept_url": "https://teamkeys.example/invitations/inv_x"},
    Template.MIGRATION_CONSENT: {
        "consent_url": "https://teamkeys.example/migration-consents/mct_x"
    },
}


def migration_failed() -> list[NewEmail]:
    return emails.migration_outcome(
        TICKET,
        TicketStatus.FAILED,
        ACME,
        account=ALICE,
        requester=CAROL,
        recipients=[CAROL, ALICE, BOB, None, ALICE],
        old_team=OLD,
    )


def every_email() -> list[NewEmail]:
    """At least one of each email, as the domain would queue it."""
    masked = "tk_live_…abcd"
    return [
        emails.welcome(ALICE, ACME),
        emails.email_verification(LINK, ALICE),
        emails.password_reset(LINK, ALICE),
        *emails.role_changed(PROMOTED, Role.USER, Role.OWNER),
        *emails.member_removed(LEFT, OLD),
        emails.invitation(INVITATION, ACME, CAROL),
        emails.invitation_accepted(EVENT, ACME, inviter=CAROL, member=BOB, role=Role.USER),
        *emails.production_key(EVENT, ACME, OWNERS, KEY, masked, BOB, created=True),
        *emails.production_key(EVENT, ACME, OWNERS, KEY, masked, CAROL, created=False),
        *emails.production_decision(EVENT, ACME, OWNERS, "rejected", ["No card."], None),
        *emails.invoice_ready(INVOICE, ACME, [ALICE], "1,234.56 USD"),
        emails.migration_consent(TICKET, ACME, requester=CAROL, account=ALICE, current_team=OLD),
        *migration_failed(),
    ]


def test_the_template_names_are_the_email_template_folders() -> None:
    folders = {p.name for p in (templates_root() / "email").iterdir() if not p.name.startswith("_")}
    assert {str(t) for t in Template} == folders


def test_every_email_is_queued_by_a_function_here() -> None:
    assert {e.template for e in every_email()} == set(Template)


def render_context(new: NewEmail) -> dict[str, Any]:
    """What the send job gives ``new``'s template (with the link a link email carries)."""
    return {
        **new.context,
        **LINK_URLS.get(new.template, {}),
        "reason": new.reason,
        "recipient_name": new.to.name,
        "public_url": "https://teamkeys.example",
    }


def render(new: NewEmail) -> RenderedEmail:
    """``new`` rendered as the send job renders it."""
    return EmailRenderer(templates_root()).render(new.template, render_context(new))


@pytest.mark.parametrize("new", every_email(), ids=lambda new: new.cause)
def test_every_email_renders_from_what_its_function_gives(new: NewEmail) -> None:
    rendered = render(new)

    assert rendered.subject and new.reason in rendered.text


def test_member_changes_tell_the_member_and_the_owners_who_did_not_act() -> None:
    told = emails.role_changed(PROMOTED, Role.USER, Role.OWNER)

    assert [(e.to.email, e.context["recipient_is_member"]) for e in told] == [
        ("bob@example.com", True),
        ("alice@example.com", False),
    ]
    assert [e.cause for e in told] == ["role_changed:evt_1:acc_bob", "role_changed:evt_1:acc_alice"]
    left = emails.member_removed(LEFT, OLD)
    assert [(e.to.email, e.context["left_voluntarily"]) for e in left] == [
        ("bob@example.com", True),
        ("alice@example.com", True),
        ("carol@example.com", True),
    ]


def test_a_migration_outcome_goes_once_to_each_person_with_their_reason() -> None:
    assert {e.to.email: e.reason for e in migration_failed()} == {
        "carol@example.com": "you asked teamkeys support to move alice@example.com into Acme.",
        "alice@example.com": "a request was made to move your account into Acme.",
        "bob@example.com": "you are an owner of Alice's Team, which alice@example.com belongs to.",
    }


def test_an_invitation_is_one_email_per_round_showing_its_expiry_in_words() -> None:
    invited = emails.invitation(INVITATION, ACME, CAROL)

    assert invited.cause == "invitation:inv_1:2" == emails.invitation_cause("inv_1", 2)
    assert invited.context["expires_at"] == "05 December 2026, 10:00 UTC"
    assert invited.to.name == invited.to.email == "dan@example.com"


def page_patterns() -> list[re.Pattern[str]]:
    """Every page of the web console, as a pattern its addresses match."""
    return [
        re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route.path)) + "$")
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or set())
    ]


# --- every branch of every template, read as its recipient ------------------------------------

REMOVED = MemberChange(EVENT, ACME, member=BOB, actor=CAROL, owners=OWNERS)


def outcomes(outcome: TicketStatus, **extra: Any) -> list[NewEmail]:
    return emails.migration_outcome(
        TICKET,
        outcome,
        ACME,
        account=ALICE,
        requester=CAROL,
        recipients=[CAROL, ALICE, BOB],
        old_team=OLD,
        **extra,
    )


def every_branch() -> list[NewEmail]:
    """Each template with each of its branches (who reads it, what happened)."""
    decision = emails.production_decision
    two_reasons = ["The website does not resolve.", "The contact email's domain has no mail."]
    return [
        *every_email(),
        *emails.member_removed(REMOVED, OLD),
        *decision(EVENT, ACME, [ALICE], "approved", [], None),
        *decision(EVENT, ACME, [ALICE], "approved", ["Looks good to us."], BOB),
        *decision(EVENT, ACME, [ALICE], "rejected", two_reasons, None),
        *decision(EVENT, ACME, [ALICE], "manual_review", ["Expected volume is high."], None),
        emails.migration_consent(TICKET, ACME, requester=CAROL, account=ALICE, current_team=None),
        *outcomes(TicketStatus.COMPLETED, old_team_closed=True),
        *outcomes(TicketStatus.COMPLETED),
        *outcomes(TicketStatus.REJECTED),
        *outcomes(TicketStatus.DECLINED),
        *emails.invoice_ready(INVOICE, ACME, [ALICE], "1.00 USD", "billing@acme.example"),
    ]


def ids(new: NewEmail) -> str:
    return f"{new.cause}:{new.context.get('status', '')}"


#: A sentence ending and the next starting with no space between ("…domain.- A support…").
RUN_TOGETHER = re.compile(r"[.!?:](?=[A-Z]|- )")
#: What may hold a dot or a colon before a letter: addresses and email addresses.
ADDRESSES = re.compile(r"https?://\S+|\S+@\S+")


@pytest.mark.parametrize("new", every_branch(), ids=ids)
def test_every_branch_reads_as_sentences_and_lists_in_the_text_part(new: NewEmail) -> None:
    text = ADDRESSES.sub("ADDRESS", render(new).text)

    assert not RUN_TOGETHER.findall(text), text
    assert "\n\n\n" not in text, text
    assert "None" not in text, text
    assert not [line for line in text.splitlines() if "  " in line.strip()], text
    for reason in new.context.get("reasons", []):
        assert f"\n- {reason}\n" in text, text  # each reason on a line of its own


@pytest.mark.parametrize("new", every_branch(), ids=ids)
def test_every_branch_wraps_long_links_inside_the_html_card(new: NewEmail) -> None:
    long = {key: value + "x" * 200 for key, value in LINK_URLS.get(new.template, {}).items()}
    rendered = EmailRenderer(templates_root()).render(
        new.template,
        {**render_context(new), **long},
    )
    card = re.search(r'<div style="background-color: #ffffff;[^"]*"', rendered.html)
    footer = rendered.html.index("You received this email because")

    assert card is not None and "overflow-wrap: anywhere" in card.group(0)
    for url in long.values():  # each long link is shown inside the card, which wraps it
        shown = [m.start() for m in re.finditer(re.escape(url), rendered.html)]
        assert shown and all(card.end() < at < footer for at in shown), new.template


def test_an_account_holder_is_spoken_to_not_about() -> None:
    for outcome in (TicketStatus.COMPLETED, TicketStatus.REJECTED, TicketStatus.DECLINED):
        told = {e.to.email: render(e) for e in outcomes(outcome)}
        holder, requester = told[ALICE.email], told[CAROL.email]

        assert ALICE.email not in holder.text and ALICE.email not in holder.subject
        assert "your account" in (holder.subject + holder.text).lower()
        assert ALICE.email in requester.text


def test_a_production_decision_names_who_decided_only_when_someone_did() -> None:
    decision = emails.production_decision
    waiting = render(decision(EVENT, ACME, [ALICE], "manual_review", ["High volume."], None)[0])
    by_agent = render(decision(EVENT, ACME, [ALICE], "approved", ["Fine."], BOB)[0])
    automatic = render(decision(EVENT, ACME, [ALICE], "rejected", ["No site."], None)[0])

    assert "Decided by" not in waiting.text and "support agent will review" in waiting.text
    assert "Decided by a support agent, for these reasons:\n- Fine.\n" in by_agent.text
    assert "Decided by our automatic review, for these reasons:\n- No site.\n" in automatic.text


def test_the_welcome_email_speaks_to_its_reader() -> None:
    text = render(emails.welcome(ALICE, ACME)).text

    assert "You are the owner of Acme" in text and "Your account Alice" not in text


def test_an_invoice_goes_to_the_owners_and_the_billing_email_once_each() -> None:
    told = emails.invoice_ready(INVOICE, ACME, [ALICE, BOB], "1.00 USD", "books@acme.example")
    again = emails.invoice_ready(INVOICE, ACME, [ALICE, BOB], "1.00 USD", "BOB@example.com")

    assert [e.to.email for e in told] == [ALICE.email, BOB.email, "books@acme.example"]
    assert told[-1].cause == "invoice_ready:invc_1:billing"
    assert "billing email of Acme" in told[-1].reason
    assert [e.to.email for e in again] == [ALICE.email, BOB.email]  # Bob is the billing email


# --- links ------------------------------------------------------------------------------------

#: The page each email speaks of, which its button (and its text part) leads to.
LEADS_TO: dict[str, str] = {
    Template.EMAIL_VERIFICATION: r"/verify-email/[^/]+",
    Template.PASSWORD_RESET: r"/reset-password/[^/]+",
    Template.WELCOME: r"/team",
    Template.INVITATION: r"/invitations/[^/]+",
    Template.INVITATION_ACCEPTED: r"/team/members",
    Template.ROLE_CHANGED: r"/team/members",
    # The person who left: their own team now; the owners: the members who are left.
    Template.MEMBER_REMOVED: r"/team|/team/members",
    Template.PRODUCTION_KEY_CREATED: r"/team/keys",
    Template.PRODUCTION_KEY_DELETED: r"/team/keys",
    Template.PRODUCTION_DECISION: r"/team/production",
    Template.MIGRATION_CONSENT: r"/migration-consents/[^/]+",
    # The person asked to move: the team they are in now; the owners: the members.
    Template.MIGRATION_OUTCOME: r"/team|/team/members",
    Template.INVOICE_READY: r"/team/billing/invoices/invc_1",
}
#: What every email's footer links to.
FOOTER = "/sign-in"


def links(text: str) -> set[str]:
    found = re.findall(r"https://teamkeys\.example(/[^\s\"<>]*)?", text)
    return {path.rstrip(".,)") for path in found}


@pytest.mark.parametrize("new", every_branch(), ids=ids)
def test_every_link_in_an_email_leads_to_the_page_it_speaks_of(new: NewEmail) -> None:
    rendered = render(new)
    pages = page_patterns()
    page = re.compile(f"^(?:{LEADS_TO[new.template]})$")
    for part in (rendered.text, rendered.html):
        found = links(part)
        assert "" not in found, f"{new.template}: a link to the bare site root"
        assert all(any(p.match(path) for p in pages) for path in found), found
        assert found - {FOOTER}, f"{new.template}: no link but the footer's"
        assert all(page.match(path) for path in found - {FOOTER}), found
