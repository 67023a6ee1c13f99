"""Every email teamkeys sends, and asking for one: one row per cause, a job sends it after commit.

Each email is one small function below that says what queueing it needs: its template, its
cause (one email per cause, ever), its recipient, the context its template shows and the
footer's reason. The use cases decide when; they hand what these return to :func:`queue_email`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached

from domain.clock import utcnow
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.models import (
    Account,
    AccountLink,
    ApiKey,
    Email,
    EmailStatus,
    Event,
    Invitation,
    Invoice,
    MigrationTicket,
    Role,
    Team,
    TicketStatus,
    insert_unless_present,
)


class Template(enum.StrEnum):
    """Every email, by the folder of its templates: ``templates/email/<value>/``."""

    WELCOME = "welcome"
    EMAIL_VERIFICATION = "email_verification"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a folder name, not a password
    ROLE_CHANGED = "role_changed"
    MEMBER_REMOVED = "member_removed"
    INVITATION = "invitation"
    INVITATION_ACCEPTED = "invitation_accepted"
    PRODUCTION_KEY_CREATED = "production_key_created"
    PRODUCTION_KEY_DELETED = "production_key_deleted"
    PRODUCTION_DECISION = "production_decision"
    INVOICE_READY = "invoice_ready"
    MIGRATION_CONSENT = "migration_consent"
    MIGRATION_OUTCOME = "migration_outcome"


class Addressee(Protocol):
    """Whoever an email goes to: an account, or an address that has none yet."""

    @property
    def email(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Address:
    email: str
    name: str


@dataclass(frozen=True)
class NewEmail:
    """One email to queue. ``context`` must hold no secret: it is stored (invariant 3);
    ``reason`` is the footer's sentence telling the reader why they got it."""

    template: Template
    cause: str
    to: Addressee
    context: dict[str, Any]
    reason: str
    team_id: str | None = None


def queue_email(session: Session, new: NewEmail, *, send_by_job: bool = True) -> Email:
    """Queue ``new``; asking twice for one cause is a no-op that gives the first email.

    With ``send_by_job=False`` no ``send_email`` job is written: the caller is a job that
    sends it itself, adding a secret (a link's token) at render time.
    """
    row: dict[str, Any] = {
        "id": new_id("eml"),
        "template": str(new.template),
        "cause": new.cause,
        "team_id": new.team_id,
        "to_address": new.to.email,
        "to_name": new.to.name,
        "context": {**new.context, "reason": new.reason, "recipient_name": new.to.name},
        "status": EmailStatus.QUEUED,
        "attempts": 0,
        "created_at": utcnow(),
    }
    inserted = session.execute(
        insert_unless_present(session, Email, unique=["cause"]).values(row).returning(Email.id)
    ).scalar_one_or_none()
    if inserted is None:
        # Asked for before (a retried job), or by another transaction at the same moment: the
        # first stands. Inserting first costs a retry one statement more and the first ask
        # one less.
        found = session.scalar(select(Email).where(Email.cause == new.cause))
        assert found is not None
        return found
    # The row is in; an object of it joins the session as its copy, with no second INSERT.
    email = Email(**row, last_error=None, sent_at=None)
    make_transient_to_detached(email)
    session.add(email)
    if send_by_job:
        enqueue_job(session, JobName.SEND_EMAIL, email_id=email.id)
    return email


def queue_emails(session: Session, emails: Iterable[NewEmail]) -> list[Email]:
    """Queue each of ``emails`` (one per recipient of a change, say), each with its job."""
    return [queue_email(session, new) for new in emails]


# --- accounts -------------------------------------------------------------------------------


def welcome(account: Account, team: Team) -> NewEmail:
    return NewEmail(
        Template.WELCOME,
        cause=f"welcome:{account.id}",
        to=account,
        team_id=team.id,
        context={"team_name": team.name, "account_name": account.name},
        reason="you signed up for teamkeys with this address.",
    )


def account_link_cause(link_id: str) -> str:
    return f"account_link:{link_id}"


def email_verification(link: AccountLink, account: Account) -> NewEmail:
    why = "someone signed up for teamkeys with this address. If it was not you, ignore this "
    why += "email: the account is deleted unless the address is confirmed."
    return _account_link(Template.EMAIL_VERIFICATION, link, account, why)


def password_reset(link: AccountLink, account: Account) -> NewEmail:
    why = "someone asked to reset the password of the teamkeys account with this address. If "
    why += "it was not you, ignore this email: your password stays as it is."
    return _account_link(Template.PASSWORD_RESET, link, account, why)


def _account_link(template: Template, link: AccountLink, account: Account, reason: str) -> NewEmail:
    return NewEmail(
        template,
        cause=account_link_cause(link.id),
        to=account,
        team_id=account.membership.team_id if account.membership is not None else None,
        context={"account_email": account.email, "expires_at": _human(link.expires_at)},
        reason=reason,
    )


# --- teams ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberChange:
    """A change to someone's membership, which they and the team's owners are told of."""

    event: Event
    team: Team
    member: Account
    #: Who made it: the member, or an owner.
    actor: Account
    #: The owners to tell; the one who acted knows already.
    owners: Iterable[Account]


def role_changed(change: MemberChange, old_role: Role, new_role: Role) -> list[NewEmail]:
    context = {"old_role": str(old_role), "new_role": str(new_role)}
    return _member_and_owners(Template.ROLE_CHANGED, change, context)


def member_removed(change: MemberChange, new_team: Team) -> list[NewEmail]:
    """Removed by an owner, or left: the member learns of their new personal team."""
    context = {
        "left_voluntarily": change.actor.id == change.member.id,
        "new_team_name": new_team.name,
    }
    return _member_and_owners(Template.MEMBER_REMOVED, change, context)


def _member_and_owners(
    template: Template, change: MemberChange, context: dict[str, Any]
) -> list[NewEmail]:
    """To the member, and to every other owner but the one who acted: a hijacked owner
    account changing the team should not go unnoticed."""
    team, member, actor = change.team, change.member, change.actor
    context = {
        "member_name": member.name,
        "member_email": member.email,
        "actor_name": actor.name,
        **context,
    }
    why = f"your membership of {team.name} on teamkeys changed."
    about = change.event.id
    to_member = _one(template, about, member, team, why, **context, recipient_is_member=True)
    owners = [o for o in change.owners if o.id not in (member.id, actor.id)]
    to_owners = _to_owners(
        template, about, team, owners, " on teamkeys.", **context, recipient_is_member=False
    )
    return [to_member, *to_owners]


# --- invitations ------------------------------------------------------------------------------


def invitation_cause(invitation_id: str, rotation: int) -> str:
    """One email per round: a renewal or resend is a new round, so a new email."""
    return f"invitation:{invitation_id}:{rotation}"


def invitation(invitation: Invitation, team: Team, inviter: Account) -> NewEmail:
    why = f"{inviter.name} ({inviter.email}) invited this address to {team.name} on teamkeys. "
    why += "If you did not expect it, ignore this email."
    to = Address(invitation.email, invitation.email)  # no account yet, so no name either
    cause = invitation_cause(invitation.id, invitation.rotation)
    return _owners_link(Template.INVITATION, cause, to, team, invitation, "inviter", inviter, why)


def invitation_accepted(
    event: Event, team: Team, *, inviter: Account, member: Account, role: Role
) -> NewEmail:
    why = f"you invited {member.email} to {team.name} on teamkeys."
    context = {"member_name": member.name, "member_email": member.email, "role": str(role)}
    return NewEmail(
        Template.INVITATION_ACCEPTED,
        f"invitation_accepted:{event.id}",
        inviter,
        {"team_name": team.name, **context},
        why,
        team.id,
    )


# --- production -------------------------------------------------------------------------------


def production_key(
    event: Event,
    team: Team,
    owners: Iterable[Account],
    key: ApiKey,
    masked: str,
    by: Account,
    *,
    created: bool,
) -> list[NewEmail]:
    """A production key was made (at ``by``'s request) or deleted (by ``by``): every owner is
    told of every production key."""
    if created:
        template, context = Template.PRODUCTION_KEY_CREATED, {"creator_name": by.name}
    else:
        template, context = Template.PRODUCTION_KEY_DELETED, {"actor_name": by.name}
    why = " on teamkeys, and owners are told about every production key."
    return _to_owners(
        template, event.id, team, owners, why, key_name=key.name, masked=masked, **context
    )


def production_decision(
    event: Event,
    team: Team,
    owners: Iterable[Account],
    status: str,
    reasons: list[str],
    by: Account | None,
) -> list[NewEmail]:
    """``by`` the support agent who decided, or ``None``: the automatic review did."""
    decided_by = "a support agent" if by else "our automatic review"
    context = {"status": str(status), "reasons": reasons, "decided_by": decided_by}
    why = ", which applied to go to production."
    return _to_owners(Template.PRODUCTION_DECISION, event.id, team, owners, why, **context)


# --- billing ----------------------------------------------------------------------------------


def invoice_ready(
    invoice: Invoice,
    team: Team,
    owners: Iterable[Account],
    total: str,
    billing_email: str | None = None,
) -> list[NewEmail]:
    """One per invoice and owner: asking again gives the same emails, and one for a new owner;
    and one to the team's billing email, unless an owner has that address (one message
    each)."""
    context = {"period": invoice.period, "total": total, "invoice_id": invoice.id}
    why = ", and owners receive its invoices."
    told = _to_owners(Template.INVOICE_READY, invoice.id, team, owners, why, **context)
    if billing_email and billing_email.casefold() not in {e.to.email.casefold() for e in told}:
        told.append(
            NewEmail(
                Template.INVOICE_READY,
                cause=f"{Template.INVOICE_READY}:{invoice.id}:billing",
                to=Address(billing_email, billing_email),
                context={"team_name": team.name, **context},
                reason=f"this address is the billing email of {team.name}.",
                team_id=team.id,
            )
        )
    return told


# --- migrations -------------------------------------------------------------------------------


def migration_consent_cause(ticket_id: str) -> str:
    """One consent email per ticket, ever."""
    return f"migration_consent:{ticket_id}"


def migration_consent(
    ticket: MigrationTicket,
    team: Team,
    *,
    requester: Account,
    account: Account,
    current_team: Team | None,
) -> NewEmail:
    why = f"{requester.name} ({requester.email}) asked teamkeys support to move your account "
    why += f"into {team.name}. If you did not expect it, decline or ignore this email."
    current = current_team.name if current_team is not None else ""
    return _owners_link(
        Template.MIGRATION_CONSENT,
        migration_consent_cause(ticket.id),
        account,
        team,
        ticket,
        "requester",
        requester,
        why,
        current_team_name=current,
    )


def migration_outcome(
    ticket: MigrationTicket,
    outcome: TicketStatus,
    team: Team,
    *,
    account: Account,
    requester: Account | None,
    recipients: Iterable[Account | None],
    old_team: Team | None = None,
    old_team_closed: bool = False,
) -> list[NewEmail]:
    """Once to each recipient (requester, account holder, the old team's owners: one person
    may be several of these), each told why they are told."""
    unique = {r.id: r for r in recipients if r is not None}
    emails = []
    for recipient in unique.values():
        if recipient.id == account.id:
            why = f"a request was made to move your account into {team.name}."
        elif requester is not None and recipient.id == requester.id:
            why = f"you asked teamkeys support to move {account.email} into {team.name}."
        else:
            why = f"you are an owner of {old_team.name if old_team else 'its team'}, which "
            why += f"{account.email} belongs to."
        emails.append(
            NewEmail(
                Template.MIGRATION_OUTCOME,
                cause=f"migration_outcome:{ticket.id}:{outcome}:{recipient.id}",
                to=recipient,
                team_id=team.id,
                context={
                    "outcome": str(outcome),
                    "team_name": team.name,
                    "account_name": account.name,
                    "account_email": account.email,
                    "requester_name": requester.name if requester else "",
                    "role": ticket.role,
                    "old_team_name": old_team.name if old_team else "",
                    "old_team_closed": old_team_closed,
                    "detail": ticket.failure_reason or "",
                    "recipient_is_account": recipient.id == account.id,
                },
                reason=why,
            )
        )
    return emails


# --- what several emails share ----------------------------------------------------------


def _to_owners(
    template: Template, about: str, team: Team, owners: Iterable[Account], why: str, **context: Any
) -> list[NewEmail]:
    """One email to each of ``owners``, its reason that they own the team (and ``why``)."""
    reason = f"you are an owner of {team.name}{why}"
    return [_one(template, about, owner, team, reason, **context) for owner in owners]


def _one(
    template: Template, about: str, to: Account, team: Team, reason: str, **context: Any
) -> NewEmail:
    """To ``to``, about something in the team (``about``: an event, an invoice)."""
    cause = f"{template}:{about}:{to.id}"
    return NewEmail(template, cause, to, {"team_name": team.name, **context}, reason, team.id)


def _owners_link(
    template: Template,
    cause: str,
    to: Addressee,
    team: Team,
    link: Invitation | MigrationTicket,
    sender_is: str,
    sender: Account,
    reason: str,
    **context: Any,
) -> NewEmail:
    """A link one of the team's owners had emailed: by whom (``sender_is``: "inviter",
    "requester"), for which role, and until when it works."""
    context = {
        "team_name": team.name,
        f"{sender_is}_name": sender.name,
        f"{sender_is}_email": sender.email,
        "role": link.role,
        **context,
        "expires_at": _human(link.expires_at),
    }
    return NewEmail(template, cause, to, context, reason, team.id)


def _human(moment: datetime) -> str:
    """A link's expiry as its email shows it."""
    return moment.strftime("%d %B %Y, %H:%M UTC")
