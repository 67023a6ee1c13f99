"""Email templates render safely and build well-formed, injection-proof MIME messages."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import jinja2
import pytest

from infra.mail.errors import PermanentMailError, UnknownTemplate
from infra.mail.message import build_message, message_id_for
from infra.mail.render import EmailRenderer, RenderedEmail, templates_root

REASON = "you signed up for teamkeys."

COMMON: dict[str, Any] = {
    "public_url": "https://teamkeys.example",
    "reason": REASON,
    "recipient_name": "Alice",
}

SAMPLES: dict[str, dict[str, Any]] = {
    "welcome": {"team_name": "Alice's Team", "account_name": "alice@example.com"},
    "email_verification": {
        "account_email": "alice@example.com",
        "expires_at": "01 December 2026, 10:00 UTC",
        "link_url": "https://teamkeys.example/verify-email/vfy_abc",
    },
    "password_reset": {
        "account_email": "alice@example.com",
        "expires_at": "01 December 2026, 10:00 UTC",
        "link_url": "https://teamkeys.example/reset-password/rst_abc",
    },
    "role_changed": {
        "team_name": "Acme",
        "member_name": "Bob",
        "member_email": "bob@example.com",
        "old_role": "member",
        "new_role": "owner",
        "actor_name": "Carol",
        "recipient_is_member": False,
    },
    "member_removed": {
        "team_name": "Acme",
        "member_name": "Bob",
        "member_email": "bob@example.com",
        "actor_name": "Carol",
        "left_voluntarily": False,
        "recipient_is_member": True,
        "new_team_name": "Bob's Team",
    },
    "invitation": {
        "team_name": "Acme",
        "inviter_name": "Carol",
        "inviter_email": "carol@example.com",
        "role": "user",
        "expires_at": "05 December 2026, 10:00 UTC",
        "accept_url": "https://teamkeys.example/invitations/inv_token",
    },
    "production_key_created": {
        "team_name": "Acme",
        "key_name": "gateway",
        "masked": "tk_live_…abcd",
        "creator_name": "Bob",
    },
    "production_key_deleted": {
        "team_name": "Acme",
        "key_name": "gateway",
        "masked": "tk_live_…abcd",
        "actor_name": "Carol",
    },
    "production_decision": {
        "team_name": "Acme",
        "status": "rejected",
        "reasons": ["No payment method is on file."],
        "decided_by": "our automatic review",
    },
    "invoice_ready": {
        "team_name": "Acme",
        "period": "2026-10",
        "total": "1,234.56 USD",
        "invoice_id": "invc_1",
    },
    "migration_consent": {
        "team_name": "Acme",
        "requester_name": "Carol",
        "requester_email": "carol@example.com",
        "role": "owner",
        "current_team_name": "Alice's Team",
        "expires_at": "05 December 2026, 10:00 UTC",
        "consent_url": "https://teamkeys.example/migration-consents/mct_token",
    },
    "migration_outcome": {
        "outcome": "completed",
        "team_name": "Acme",
        "account_name": "Alice",
        "account_email": "alice@example.com",
        "requester_name": "Carol",
        "role": "user",
        "old_team_name": "Alice's Team",
        "old_team_closed": True,
        "detail": "",
        "recipient_is_account": True,
    },
    "invitation_accepted": {
        "team_name": "Acme",
        "member_name": "Bob",
        "member_email": "bob@example.com",
        "role": "owner",
    },
}


#: A variable each email shows that a person chose; most show the team's name. The account
#: link emails keep a fixed subject (it is what people search their mail for).
PROBE = {"email_verification": "account_email", "password_reset": "account_email"}


def test_every_email_template_has_a_sample_here() -> None:
    names = {p.name for p in (templates_root() / "email").iterdir() if not p.name.startswith("_")}
    assert names == set(SAMPLES)


@pytest.fixture
def renderer() -> EmailRenderer:
    return EmailRenderer(templates_root())


def context(name: str, **overrides: Any) -> dict[str, Any]:
    return {**COMMON, **SAMPLES[name], **overrides}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_email_renders_one_line_subject_and_footer_in_both_parts(
    renderer: EmailRenderer, name: str
) -> None:
    rendered = renderer.render(name, context(name))

    assert rendered.subject
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.subject == rendered.subject.strip()
    for body in (rendered.text, rendered.html):
        assert REASON in body
        # An invitee has no account, so no name yet: that email says "Hello,".
        assert ("Hello," if name == "invitation" else "Hi Alice,") in body
    assert "teamkeys · sign in at https://teamkeys.example/sign-in\n" in rendered.text
    assert 'teamkeys · <a href="https://teamkeys.example/sign-in"' in rendered.html


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_html_is_escaped_and_text_is_literal(renderer: EmailRenderer, name: str) -> None:
    probe = PROBE.get(name, "team_name")
    rendered = renderer.render(name, context(name, **{probe: "<script>alert(1)</script>"}))

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "<script>" not in rendered.html
    assert "<script>alert(1)</script>" in rendered.text
    if name not in PROBE:
        assert "<script>alert(1)</script>" in rendered.subject


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_missing_context_variable_raises(renderer: EmailRenderer, name: str) -> None:
    incomplete = context(name)
    del incomplete[PROBE.get(name, "team_name")]

    with pytest.raises(jinja2.UndefinedError):
        renderer.render(name, incomplete)


def test_unknown_template_is_a_permanent_error(renderer: EmailRenderer) -> None:
    for name in ("no_such_email", "_base", "../templates", ""):
        with pytest.raises(UnknownTemplate):
            renderer.render(name, COMMON)
    assert issubclass(UnknownTemplate, PermanentMailError)


def test_role_changed_wording_depends_on_recipient(renderer: EmailRenderer) -> None:
    to_member = renderer.render("role_changed", context("role_changed", recipient_is_member=True))
    to_owner = renderer.render("role_changed", context("role_changed", recipient_is_member=False))

    assert to_member.subject == "Your role in Acme is now owner"
    assert "Carol changed Bob's role in Acme from member to owner" in to_owner.text
    assert "Carol changed Bob's role" in to_owner.html


def test_member_removed_shows_new_team_only_to_the_member(renderer: EmailRenderer) -> None:
    to_member = renderer.render("member_removed", context("member_removed", left_voluntarily=True))
    to_owner = renderer.render(
        "member_removed", context("member_removed", recipient_is_member=False)
    )

    assert to_member.subject == "You left Acme"
    assert "Bob's Team" in to_member.text
    assert "Bob&#39;s Team" in to_member.html
    assert to_owner.subject == "Bob was removed from Acme"
    assert "Bob's Team" not in to_owner.text + to_owner.html


def test_subject_whitespace_collapses_to_one_line(renderer: EmailRenderer) -> None:
    rendered = renderer.render("welcome", context("welcome", team_name="Evil\r\n  Team\tX"))

    assert rendered.subject == "Welcome to teamkeys: Evil Team X is ready"


RENDERED = RenderedEmail(subject="Hello", text="Hi there\n", html="<p>Hi there</p>\n")


def build(**overrides: Any) -> email.message.EmailMessage:
    arguments: dict[str, Any] = {
        "sender_name": "teamkeys",
        "sender_address": "noreply@teamkeys.example",
        "to_name": "Alice Example",
        "to_address": "alice@example.com",
        "message_id": message_id_for("welcome:42", "teamkeys.example"),
    }
    arguments.update(overrides)
    rendered = arguments.pop("rendered", RENDERED)
    return build_message(rendered, **arguments)


def test_message_is_multipart_alternative_text_then_html() -> None:
    message = build()

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Subject"] == "Hello"
    assert message["Date"]
    assert message["To"] == "Alice Example <alice@example.com>"


def test_message_id_is_stable_per_cause() -> None:
    first = message_id_for("welcome:42", "teamkeys.example")

    assert first == message_id_for("welcome:42", "teamkeys.example")
    assert first != message_id_for("welcome:43", "teamkeys.example")
    assert first.startswith("<") and first.endswith("@teamkeys.example>")
    assert len(first.split("@")[0]) == 1 + 32
    assert build()["Message-ID"] == first


def test_display_name_cannot_inject_headers() -> None:
    message = build(
        to_name="Eve\r\nBcc: victim@example.com",
        sender_name="teamkeys\nX-Evil: 1",
        rendered=RenderedEmail(subject="Hi\r\nBcc: victim@example.com", text="t", html="h"),
    )

    wire = message.as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed.get_all("Bcc") is None
    assert parsed.get_all("X-Evil") is None
    assert len(parsed.get_all("To") or []) == 1
    assert b"\r\nBcc:" not in wire
    assert parsed["To"].addresses[0].addr_spec == "alice@example.com"


def test_address_with_line_break_is_refused() -> None:
    with pytest.raises(PermanentMailError):
        build(to_address="alice@example.com\r\nBcc: victim@example.com")


def test_non_ascii_display_name_is_encoded() -> None:
    wire = build(to_name="Zoë Ålund").as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(wire, policy=email.policy.default)

    assert parsed["To"].addresses[0].display_name == "Zoë Ålund"
    assert wire.isascii()
