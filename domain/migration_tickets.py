"""Account migration tickets: an owner asks support to move an existing account into the team.

The account holder consents through a single-use emailed link (its token is made by the
consent job at send time and only its digest is stored, as for invitations); a support agent
then approves or rejects; the migration job re-checks everything and moves the membership in
one transaction. Every state change is written to the ticket's history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import emails
from domain.accounts import normalize_email, verified_account
from domain.api_keys import delete_team_keys
from domain.audit import record_event
from domain.clock import utcnow
from domain.errors import AlreadyMember, Conflict, InvalidInput, NoSuchTicket, NotFound
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.limits import Limit, RateLimits
from domain.links import LinkEmail, LinkKind, LinkSending, email_link, past_expiry
from domain.models import (
    OPEN_TICKET_STATUSES,
    Account,
    Email,
    EmailStatus,
    Membership,
    MigrationTicket,
    MigrationTicketChange,
    Role,
    Team,
    TicketStatus,
)
from domain.permissions import Actor, Permission
from domain.team_links import Preview, Refusal, TeamLink
from domain.teams import (
    Member,
    actor_in,
    authorize,
    authorize_locked,
    lock_team,
    member_count,
    owner_count,
    require_support,
    team_members,
    team_owners,
)

MAX_NOTE_LENGTH = 2000
#: Tickets listed at once, oldest first, unless the caller asks for another number.
TICKET_PAGE = 200
#: Why a migration fails when the account would leave its team without an owner.
TRANSFER_OWNERSHIP_FIRST = (
    "transfer ownership first: the account is the sole owner of a team that has other "
    "members, so moving it would leave that team without an owner"
)


@dataclass(frozen=True)
class MigrationPolicy:
    #: How long the consent link works; then the sweep marks the ticket ``expired``.
    consent_ttl: timedelta


class MembershipMoved(Exception):
    """The account changed teams while the migration job was locking; the job runs again."""


# --- owners of the target team -----------------------------------------------------------


def open_ticket(
    session: Session,
    actor: Account,
    team_id: str,
    *,
    email: str,
    role: Role,
    note: str,
    policy: MigrationPolicy,
    limits: RateLimits,
) -> MigrationTicket:
    """Ask support to move the account with ``email`` into the team; its holder is asked first.

    No verified account is 404 ``no_such_account`` (invite the email instead); a member
    already is 409 ``already_member``; an account with an open ticket (any team's) is 409
    ``ticket_already_open``. Each ticket emails its account's holder, so tickets are limited
    per team and per account (429).
    """
    email = normalize_email(email)
    authorize_locked(session, actor, team_id, Permission.MIGRATION_REQUEST)
    note = _clean_text(note, what="Note", required=False)
    account = verified_account(session, email)
    if account is None or account.is_support:
        raise NotFound(
            "No teamkeys account has this email. To bring in someone new, invite them instead: "
            f"POST /v1/teams/{team_id}/invitations.",
            code="no_such_account",
        )
    if account.membership is not None and account.membership.team_id == team_id:
        raise AlreadyMember("This person is already a member of the team.")
    if session.scalar(
        select(MigrationTicket.id).where(MigrationTicket.open_account_id == account.id)
    ):
        raise _already_open()
    limits.check(Limit.MIGRATION_TICKETS_PER_TEAM, team_id)
    limits.check(Limit.MIGRATION_TICKETS_PER_EMAIL, account.email)
    limits.hit(Limit.MIGRATION_TICKETS_PER_TEAM, team_id)
    limits.hit(Limit.MIGRATION_TICKETS_PER_EMAIL, account.email)
    now = utcnow()
    ticket = MigrationTicket(
        id=new_id("mig"),
        team_id=team_id,
        requester_id=actor.id,
        account_id=account.id,
        email=account.email,
        role=role,
        note=note,
        status=TicketStatus.AWAITING_CONSENT,
        open_account_id=account.id,
        expires_at=now + policy.consent_ttl,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(ticket)
    except IntegrityError:
        # Another owner opened one for this account at the same moment: theirs stands.
        raise _already_open() from None
    _add_change(session, ticket, None, actor_id=actor.id, note=note)
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="migration.requested",
        target=ticket.id,
        details={"email": account.email, "account_id": account.id, "role": role},
    )
    enqueue_job(session, JobName.SEND_MIGRATION_CONSENT, ticket_id=ticket.id)
    return ticket


def list_team_tickets(session: Session, actor: Account, team_id: str) -> list[MigrationTicket]:
    """The team's tickets, newest first (owners)."""
    authorize(session, actor, team_id, Permission.MIGRATION_REQUEST)
    return list(
        session.scalars(
            select(MigrationTicket)
            .where(MigrationTicket.team_id == team_id)
            .order_by(MigrationTicket.created_at.desc(), MigrationTicket.id)
        )
    )


def cancel_ticket(session: Session, actor: Account, team_id: str, ticket_id: str) -> None:
    """An owner withdraws the request before a support agent approved it; twice is fine."""
    authorize(session, actor, team_id, Permission.MIGRATION_REQUEST)
    query = select(MigrationTicket).where(
        MigrationTicket.id == ticket_id, MigrationTicket.team_id == team_id
    )
    ticket = session.scalar(query.with_for_update())
    if ticket is None:
        raise NoSuchTicket("No such migration ticket in this team.")
    if ticket.status == TicketStatus.CANCELLED:
        return
    if ticket.status not in (TicketStatus.AWAITING_CONSENT, TicketStatus.AWAITING_REVIEW):
        raise Conflict(
            f"This ticket is {ticket.status}; a ticket can be cancelled only before a support "
            "agent approves it.",
            code="ticket_closed",
        )
    _move(session, ticket, TicketStatus.CANCELLED, actor_id=actor.id)
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="migration.cancelled",
        target=ticket.id,
        details={"email": ticket.email},
    )


# --- the account holder, through the consent link -----------------------------------------


def preview_consent(session: Session, token: str) -> Preview[MigrationTicket]:
    """Who asks to move the link holder's account, and into which team, before deciding."""
    return CONSENT_LINK.preview(session, token)


def decide_consent(session: Session, token: str, *, accept: bool) -> MigrationTicket:
    """Accept (the ticket waits for a support agent) or decline (it ends); the link is used up."""
    ticket = CONSENT_LINK.usable(session, token, lock=True)
    if accept:
        _move(session, ticket, TicketStatus.AWAITING_REVIEW, actor_id=ticket.account_id)
    else:
        _move(session, ticket, TicketStatus.DECLINED, actor_id=ticket.account_id)
    record_event(
        session,
        team_id=ticket.team_id,
        actor_id=ticket.account_id,
        action="migration.consented" if accept else "migration.declined",
        target=ticket.id,
        details={"email": ticket.email},
    )
    if not accept:
        requester = session.get(Account, ticket.requester_id)
        _tell_outcome(session, ticket, TicketStatus.DECLINED, [requester])
    return ticket


# --- support agents --------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentTeam:
    """The team the account is in now, and what moving it would do there."""

    team: Team
    account_role: Role
    member_count: int
    owner_count: int
    #: Its members, longest-standing first: read for the ticket's own page only.
    members: tuple[Member, ...] = ()

    @property
    def account_is_sole_owner(self) -> bool:
        return self.account_role is Role.OWNER and self.owner_count == 1


@dataclass(frozen=True)
class HistoryEntry:
    change: MigrationTicketChange
    actor_email: str | None


@dataclass(frozen=True)
class TicketView:
    """Everything a support agent needs to settle one ticket."""

    ticket: MigrationTicket
    requester: Account
    account: Account
    target_team: Team
    current_team: CurrentTeam | None
    history: list[HistoryEntry]
    #: The requesting team's members, longest-standing first: read for the ticket's own page
    #: only (a queue of tickets shows counts).
    target_members: tuple[Member, ...] = ()


def list_tickets(
    session: Session,
    agent: Account,
    *,
    status: TicketStatus | None = None,
    limit: int = TICKET_PAGE,
) -> list[TicketView]:
    """Tickets oldest first (a queue to work through), optionally of one status."""
    require_support(agent)
    return ticket_views(session, status=status, limit=limit)


def count_tickets(session: Session, agent: Account) -> dict[TicketStatus, int]:
    """How many tickets are in each status (every status, zero included): the queue's tabs."""
    require_support(agent)
    rows = session.execute(
        select(MigrationTicket.status, func.count()).group_by(MigrationTicket.status)
    ).tuples()
    found = {TicketStatus(status): int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in TicketStatus}


def get_ticket(session: Session, agent: Account, ticket_id: str) -> TicketView:
    require_support(agent)
    return _view(session, _ticket(session, ticket_id), members=True)


def ticket_views(
    session: Session, *, status: TicketStatus | None = None, limit: int = TICKET_PAGE
) -> list[TicketView]:
    """For callers that checked who asks already (the API's support routes, the terminal)."""
    query = select(MigrationTicket).order_by(MigrationTicket.created_at, MigrationTicket.id)
    if status is not None:
        query = query.where(MigrationTicket.status == status)
    return [_view(session, t) for t in session.scalars(query.limit(limit))]


def ticket_view(session: Session, ticket_id: str) -> TicketView:
    return _view(session, _ticket(session, ticket_id))


def approve_ticket(session: Session, agent: Account, ticket_id: str, *, note: str) -> TicketView:
    """Approve a consented ticket; the migration job then re-checks everything and moves it.

    Only a ticket awaiting review can be approved (409 ``ticket_not_awaiting_review``), so
    approving twice runs one migration.
    """
    require_support(agent)
    note = _clean_text(note, what="Note", required=False)
    ticket = _ticket(session, ticket_id, lock=True)
    _require_awaiting_review(ticket, "approved")
    _move(session, ticket, TicketStatus.APPROVED, actor_id=agent.id, note=note)
    record_event(
        session,
        team_id=ticket.team_id,
        actor_id=agent.id,
        action="migration.approved",
        target=ticket.id,
        details={"email": ticket.email, "note": note},
    )
    enqueue_job(session, JobName.MIGRATE_ACCOUNT, ticket_id=ticket.id)
    return _view(session, ticket)


def reject_ticket(session: Session, agent: Account, ticket_id: str, *, reason: str) -> TicketView:
    """Refuse a consented ticket with a reason, which the requester and the account holder
    are emailed."""
    require_support(agent)
    reason = _clean_text(reason, what="Reason", required=True)
    ticket = _ticket(session, ticket_id, lock=True)
    _require_awaiting_review(ticket, "rejected")
    _move(session, ticket, TicketStatus.REJECTED, actor_id=agent.id, note=reason)
    ticket.failure_reason = reason
    record_event(
        session,
        team_id=ticket.team_id,
        actor_id=agent.id,
        action="migration.rejected",
        target=ticket.id,
        details={"email": ticket.email, "reason": reason},
    )
    people = [session.get(Account, ticket.requester_id), session.get(Account, ticket.account_id)]
    _tell_outcome(session, ticket, TicketStatus.REJECTED, [p for p in people if p is not None])
    return _view(session, ticket)


# --- the sweep ------------------------------------------------------------------------------


def expire_tickets(session: Session, *, limit: int = 500) -> int:
    """Tickets whose consent link ran out unanswered become ``expired``."""
    awaiting = MigrationTicket.status == TicketStatus.AWAITING_CONSENT
    due = past_expiry(session, MigrationTicket, awaiting, limit=limit)
    for ticket in due:
        _expire(session, ticket)
    return len(due)


# --- for the consent job ----------------------------------------------------------------------


def prepare_consent_email(session: Session, ticket_id: str, secret: bytes) -> LinkEmail | None:
    """Re-check at run time and make the link's token; ``None`` when nothing should go out.

    The requester must still be an owner of the team (else the ticket ``failed``), the
    ticket still awaiting consent, unexpired and its email not yet sent. The token is made
    from the ticket under a server key, so a retry sends the same working link.
    """
    ticket = session.get(MigrationTicket, ticket_id, with_for_update=True)
    if (
        ticket is None
        or ticket.status != TicketStatus.AWAITING_CONSENT
        or ticket.consent_sent_at is not None
    ):
        return None
    if ticket.expires_at <= utcnow():
        _expire(session, ticket)
        return None
    team = session.get(Team, ticket.team_id)
    requester = session.get(Account, ticket.requester_id)
    account = session.get(Account, ticket.account_id)
    if team is None or requester is None or not _is_owner(session, requester, team.id):
        fail_consent(session, ticket_id, "The requester is no longer an owner of the team.")
        return None
    assert account is not None
    cause = emails.migration_consent_cause(ticket.id)
    earlier = session.scalar(select(Email).where(Email.cause == cause))
    if earlier is not None and earlier.status == EmailStatus.SENT:
        # Sent by an attempt that died before recording it: its link is the live one.
        ticket.consent_sent_at = earlier.sent_at or utcnow()
        return None
    if earlier is not None and earlier.status in (EmailStatus.FAILED, EmailStatus.DEAD):
        fail_consent(
            session, ticket_id, f"The consent email was not delivered: {earlier.last_error}"
        )
        return None
    current = account.membership.team if account.membership is not None else None
    email = emails.migration_consent(
        ticket, team, requester=requester, account=account, current_team=current
    )
    return email_link(session, ticket, CONSENT_LINK_KIND, secret, email, ticket.id)


def record_consent_delivery(session: Session, ticket_id: str, status: EmailStatus) -> None:
    """The consent email went out: the ticket shows when. Refused by the mail server for good:
    the ticket ``failed`` with the server's refusal."""
    if status is EmailStatus.FAILED:
        refusal = session.scalar(
            select(Email.last_error).where(Email.cause == emails.migration_consent_cause(ticket_id))
        )
        fail_consent(
            session, ticket_id, f"The mail server refused the address: {refusal or 'refused'}"
        )
        return
    ticket = session.get(MigrationTicket, ticket_id, with_for_update=True)
    if (
        ticket is not None
        and ticket.status == TicketStatus.AWAITING_CONSENT
        and ticket.consent_sent_at is None
    ):
        ticket.consent_sent_at = utcnow()


def fail_consent(session: Session, ticket_id: str, reason: str) -> None:
    """The consent email could not be sent (or should not be): the ticket ``failed``."""
    ticket = session.get(MigrationTicket, ticket_id, with_for_update=True)
    if ticket is None or ticket.status != TicketStatus.AWAITING_CONSENT:
        return
    _fail(session, ticket, reason, everyone=False)


def _consent_died(session: Session, ticket_id: str, reason: str) -> None:
    fail_consent(session, ticket_id, f"The consent email could not be delivered: {reason}")


#: For the job that emails the consent link (``send_migration_consent``).
CONSENT_SENDING = LinkSending(
    key=lambda args: args["ticket_id"],
    email_cause=emails.migration_consent_cause,
    prepare=prepare_consent_email,
    record=record_consent_delivery,
    died=_consent_died,
)


# --- for the migration job ---------------------------------------------------------------------


def migrate_account(session: Session, ticket_id: str) -> MigrationTicket | None:
    """Move the account of an approved ticket, re-checking everything, in the caller's one
    transaction; ``None`` if the ticket is not approved (done already, or never approved).

    Both teams are locked in id order (no deadlock with another migration the other way).
    The sole owner of a team with other members is not moved: the ticket ``failed``,
    "transfer ownership first". An account alone in its team leaves it closed, its keys
    deleted.
    """
    ticket = session.get(MigrationTicket, ticket_id, with_for_update=True, populate_existing=True)
    if ticket is None or ticket.status != TicketStatus.APPROVED:
        return None
    requester = session.get(Account, ticket.requester_id)
    account = session.get(Account, ticket.account_id)
    if account is None or account.membership is None:
        return _fail(session, ticket, "The account no longer belongs to any team.")
    old_team_id = account.membership.team_id
    for team_id in sorted({old_team_id, ticket.team_id}):
        lock_team(session, team_id)
    membership = session.scalar(
        select(Membership)
        .where(Membership.account_id == account.id)
        .execution_options(populate_existing=True)
    )
    if membership is None or membership.team_id != old_team_id:
        raise MembershipMoved(f"account {account.id} changed teams during the migration")
    target = session.get(Team, ticket.team_id)
    old_team = session.get(Team, old_team_id)
    assert target is not None and old_team is not None
    if target.closed_at is not None:
        return _fail(session, ticket, f"{target.name} has been closed.")
    if requester is None or not _is_owner(session, requester, target.id):
        return _fail(session, ticket, f"The requester is no longer an owner of {target.name}.")
    if membership.team_id == target.id:
        return _fail(session, ticket, f"The account is already a member of {target.name}.")
    members = member_count(session, old_team.id)
    old_role = Role(membership.role)
    old_owners = [o for o in team_owners(session, old_team.id) if o.id != account.id]
    if old_role is Role.OWNER and owner_count(session, old_team.id) == 1 and members > 1:
        return _fail(session, ticket, TRANSFER_OWNERSHIP_FIRST, old_team=old_team)

    now = utcnow()
    new_role = Role(ticket.role)
    membership.team_id, membership.role, membership.joined_at = target.id, new_role, now
    closes = members == 1
    record_event(
        session,
        team_id=old_team.id,
        actor_id=None,
        action="member.migrated_out",
        target=account.id,
        details={
            "ticket_id": ticket.id,
            "email": account.email,
            "role": old_role,
            "to_team_id": target.id,
            "team_closed": closes,
        },
    )
    if closes:
        old_team.closed_at = now
        deleted = delete_team_keys(session, old_team.id, actor_id=None)
        record_event(
            session,
            team_id=old_team.id,
            actor_id=None,
            action="team.closed",
            target=old_team.id,
            details={"reason": "its last member moved", "ticket_id": ticket.id, "keys": deleted},
        )
    record_event(
        session,
        team_id=target.id,
        actor_id=None,
        action="member.migrated_in",
        target=account.id,
        details={
            "ticket_id": ticket.id,
            "email": account.email,
            "role": new_role,
            "from_team_id": old_team.id,
        },
    )
    ticket.source_team_id = old_team.id
    _move(
        session,
        ticket,
        TicketStatus.COMPLETED,
        actor_id=None,
        note=f"moved from {old_team.name}" + (", which was closed" if closes else ""),
    )
    _tell_outcome(
        session,
        ticket,
        TicketStatus.COMPLETED,
        [requester, account, *old_owners],
        old_team=old_team,
        old_team_closed=closes,
    )
    return ticket


# --- rules shared by the use cases above -------------------------------------------------------


def _move(
    session: Session,
    ticket: MigrationTicket,
    to_status: TicketStatus,
    *,
    actor_id: str | None,
    note: str = "",
) -> None:
    """Change the state and write it into the history. Leaving ``awaiting_consent`` kills the
    link; leaving the open states frees the account for another ticket."""
    from_status = TicketStatus(ticket.status)
    ticket.status = to_status
    ticket.updated_at = utcnow()
    if to_status != TicketStatus.AWAITING_CONSENT:
        ticket.token_digest = None
    if to_status not in OPEN_TICKET_STATUSES:
        ticket.open_account_id = None
    _add_change(session, ticket, from_status, actor_id=actor_id, note=note)


def _add_change(
    session: Session,
    ticket: MigrationTicket,
    from_status: TicketStatus | None,
    *,
    actor_id: str | None,
    note: str,
) -> None:
    session.add(
        MigrationTicketChange(
            ticket_id=ticket.id,
            at=utcnow(),
            actor_id=actor_id,
            from_status=from_status,
            to_status=ticket.status,
            note=note,
        )
    )
    session.flush()


def _fail(
    session: Session,
    ticket: MigrationTicket,
    reason: str,
    *,
    old_team: Team | None = None,
    everyone: bool = True,
) -> MigrationTicket:
    """End the ticket ``failed`` with ``reason``. The requester is told; with ``everyone``,
    the account holder and the owners of the account's team are too, and that team's audit
    log shows it."""
    _move(session, ticket, TicketStatus.FAILED, actor_id=None, note=reason)
    ticket.failure_reason = reason
    requester = session.get(Account, ticket.requester_id)
    account = session.get(Account, ticket.account_id)
    recipients: list[Account | None] = [requester]
    if everyone and account is not None:
        if old_team is None and account.membership is not None:
            old_team = account.membership.team
        recipients += [account, *(team_owners(session, old_team.id) if old_team else [])]
    teams = [ticket.team_id] + ([old_team.id] if everyone and old_team else [])
    for team_id in dict.fromkeys(teams):
        record_event(
            session,
            team_id=team_id,
            actor_id=None,
            action="migration.failed",
            target=ticket.id,
            details={"email": ticket.email, "reason": reason},
        )
    _tell_outcome(session, ticket, TicketStatus.FAILED, recipients, old_team=old_team)
    return ticket


def _expire(session: Session, ticket: MigrationTicket) -> None:
    _move(session, ticket, TicketStatus.EXPIRED, actor_id=None, note="no answer to the link")
    record_event(
        session,
        team_id=ticket.team_id,
        actor_id=None,
        action="migration.expired",
        target=ticket.id,
        details={"email": ticket.email},
    )


def _tell_outcome(
    session: Session,
    ticket: MigrationTicket,
    outcome: TicketStatus,
    recipients: Iterable[Account | None],
    *,
    old_team: Team | None = None,
    old_team_closed: bool = False,
) -> None:
    """Email ``migration_outcome`` once to each recipient (requester, account holder, the old
    team's owners: one person may be several of these)."""
    team = session.get(Team, ticket.team_id)
    account = session.get(Account, ticket.account_id)
    requester = session.get(Account, ticket.requester_id)
    assert team is not None and account is not None
    told = emails.migration_outcome(
        ticket,
        outcome,
        team,
        account=account,
        requester=requester,
        recipients=recipients,
        old_team=old_team,
        old_team_closed=old_team_closed,
    )
    emails.queue_emails(session, told)


def _is_owner(session: Session, account: Account, team_id: str) -> bool:
    return actor_in(session, account, team_id) is Actor.OWNER


def _already_open() -> Conflict:
    return Conflict(
        "This account already has an open migration ticket; it must be settled, cancelled or "
        "expire before another is opened.",
        code="ticket_already_open",
    )


def _require_awaiting_review(ticket: MigrationTicket, verb: str) -> None:
    if ticket.status != TicketStatus.AWAITING_REVIEW:
        raise Conflict(
            f"This ticket is {ticket.status}; only a ticket awaiting review can be {verb}.",
            code="ticket_not_awaiting_review",
        )


def _ticket(session: Session, ticket_id: str, *, lock: bool = False) -> MigrationTicket:
    query = select(MigrationTicket).where(MigrationTicket.id == ticket_id)
    ticket = session.scalar(query.with_for_update() if lock else query)
    if ticket is None:
        raise NoSuchTicket("No such migration ticket.")
    return ticket


def _view(session: Session, ticket: MigrationTicket, *, members: bool = False) -> TicketView:
    """The ticket and what is around it; with ``members``, both teams' members too."""
    requester = session.get(Account, ticket.requester_id)
    account = session.get(Account, ticket.account_id)
    target = session.get(Team, ticket.team_id)
    assert requester is not None and account is not None and target is not None
    current = None
    # One statement for the membership and its team, and what follows read from what it
    # found, never by asking again: a migration committed meanwhile (the job may run while an
    # agent's page loads) cannot leave this view holding a membership whose team is gone.
    found = session.execute(
        select(Membership, Team)
        .join(Team, Team.id == Membership.team_id)
        .where(Membership.account_id == account.id)
        .execution_options(populate_existing=True)
    ).first()
    if found is not None:
        membership, team = found
        if members:
            people = tuple(team_members(session, team.id))
            roles = [m.membership.role for m in people]
        else:
            people, roles = (
                (),
                list(session.scalars(select(Membership.role).where(Membership.team_id == team.id))),
            )
        current = CurrentTeam(
            team=team,
            account_role=Role(membership.role),
            member_count=len(roles),
            owner_count=roles.count(Role.OWNER),
            members=people,
        )
    changes = session.scalars(
        select(MigrationTicketChange)
        .where(MigrationTicketChange.ticket_id == ticket.id)
        .order_by(MigrationTicketChange.id)
    ).all()
    actor_ids = {c.actor_id for c in changes if c.actor_id}
    addresses = dict(
        session.execute(select(Account.id, Account.email).where(Account.id.in_(actor_ids)))
        .tuples()
        .all()
    )
    history = [HistoryEntry(c, addresses.get(c.actor_id or "")) for c in changes]
    target_members = tuple(team_members(session, target.id)) if members else ()
    return TicketView(ticket, requester, account, target, current, history, target_members)


def _clean_text(raw: str, *, what: str, required: bool) -> str:
    text = raw.strip()
    if required and not text:
        raise InvalidInput(f"{what} must not be empty.", code="invalid_input")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            f"{what} is longer than {MAX_NOTE_LENGTH} characters.", code="invalid_input"
        )
    return text


# --- the link ------------------------------------------------------------------------------

#: The consent link: ``/migration-consents/<token>`` on the web console.
CONSENT_LINK_KIND = LinkKind(
    "migration_consent", "mct", "migration-consents", url_key="consent_url"
)
#: Works while the ticket awaits consent, and only while its requester owns the team.
CONSENT_LINK = TeamLink(
    MigrationTicket,
    is_open=lambda ticket: ticket.status == TicketStatus.AWAITING_CONSENT,
    sender_id=lambda ticket: ticket.requester_id,
    unusable=Refusal(
        "This link is no longer valid: it was used already, the request was withdrawn, "
        "or it never existed.",
        "consent_unusable",
    ),
    expired=Refusal(
        "This request has expired. Ask the team's owner to open a new one.", "consent_expired"
    ),
    sender_not_owner=Refusal(
        "The person who asked for this is no longer an owner of the team.",
        "requester_not_owner",
    ),
)
