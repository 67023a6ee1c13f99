"""Invitations: owners invite an email with a role; the invitee accepts with a single-use link.

The token exists in plain only in the email. It is made by the job that sends the email, at
send time, and only its digest is stored; re-inviting or resending rotates it, so the old
link dies at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from domain import emails
from domain.accounts import (
    AccountPolicy,
    Client,
    IssuedSession,
    clean_name,
    create_account,
    end_reads,
    hash_new_password,
    start_session,
    verified_account,
)
from domain.audit import record_event
from domain.clock import utcnow
from domain.errors import (
    AccountExists,
    AlreadyMember,
    EmailTaken,
    InvitationClosed,
    NotFound,
    Throttled,
)
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.links import LinkEmail, LinkKind, LinkSending, email_link, past_expiry
from domain.models import (
    MAX_PERSON_NAME_LENGTH,
    Account,
    Email,
    EmailStatus,
    Event,
    Invitation,
    InvitationStatus,
    Membership,
    Role,
    Team,
)
from domain.permissions import Permission
from domain.secrets import Passwords
from domain.team_links import Preview, Refusal, TeamLink
from domain.teams import authorize_locked, authorize_member, lock_team

#: Actions counted against the per-team daily invitation limit.
SENDING_ACTIONS = ("invitation.created", "invitation.renewed", "invitation.resent")
#: Statuses in which a link may still be used, and the invitation resent.
LIVE = (InvitationStatus.PENDING, InvitationStatus.SENT)


@dataclass(frozen=True)
class InvitationPolicy:
    #: How long an invitation's link works.
    ttl: timedelta
    #: Invitations (new, renewed or resent) one team may send in 24 hours.
    daily_limit: int


def invite_member(
    session: Session,
    actor: Account,
    team_id: str,
    *,
    email: str,
    role: Role,
    policy: InvitationPolicy,
) -> Invitation:
    """Invite ``email`` into the team with ``role``, or renew its invitation if it has one.

    Renewing (the same email again) rotates the token, extends the expiry and sends again:
    the old link dies. An email that already has an account cannot be invited: a member is
    :class:`Conflict` ``already_member``; anyone else needs a migration ticket.
    """
    email = email.strip().lower()
    authorize_locked(session, actor, team_id, Permission.INVITATIONS_MANAGE)
    # Under the team's lock: accepting an invitation makes its account under the same lock,
    # so an invitation racing an acceptance sees the new member and is refused.
    _refuse_existing_account(verified_account(session, email), team_id)
    _check_daily_limit(session, team_id, policy)
    now = utcnow()
    invitation = session.scalar(
        select(Invitation)
        .where(Invitation.team_id == team_id, Invitation.email == email)
        .with_for_update()
    )
    if invitation is None:
        invitation = Invitation(
            id=new_id("inv"),
            team_id=team_id,
            email=email,
            role=role,
            inviter_id=actor.id,
            rotation=1,
            created_at=now,
            expires_at=now + policy.ttl,
            status=InvitationStatus.PENDING,
        )
        session.add(invitation)
        action = "invitation.created"
    else:
        invitation.role = role
        invitation.inviter_id = actor.id
        _rotate(invitation, now, policy)
        action = "invitation.renewed"
    session.flush()
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action=action,
        target=invitation.id,
        details={"email": email, "role": role, "rotation": invitation.rotation},
    )
    _send_round(session, invitation)
    return invitation


def resend_invitation(
    session: Session,
    actor: Account,
    team_id: str,
    invitation_id: str,
    *,
    policy: InvitationPolicy,
) -> Invitation:
    """Send again with a fresh token and expiry; accepted and revoked invitations stay so."""
    authorize_locked(session, actor, team_id, Permission.INVITATIONS_MANAGE)
    invitation = _invitation(session, team_id, invitation_id, lock=True)
    if invitation.status in (InvitationStatus.ACCEPTED, InvitationStatus.REVOKED):
        raise InvitationClosed(
            f"This invitation is {invitation.status}; invite the email again instead."
        )
    _refuse_existing_account(verified_account(session, invitation.email), team_id)
    _check_daily_limit(session, team_id, policy)
    invitation.inviter_id = actor.id
    _rotate(invitation, utcnow(), policy)
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="invitation.resent",
        target=invitation.id,
        details={"email": invitation.email, "rotation": invitation.rotation},
    )
    _send_round(session, invitation)
    return invitation


def revoke_invitation(session: Session, actor: Account, team_id: str, invitation_id: str) -> None:
    """Kill the link. Revoking twice is fine; an accepted invitation cannot be revoked."""
    authorize_locked(session, actor, team_id, Permission.INVITATIONS_MANAGE)  # team, then it
    invitation = _invitation(session, team_id, invitation_id, lock=True)
    if invitation.status == InvitationStatus.REVOKED:
        return
    if invitation.status == InvitationStatus.ACCEPTED:
        raise InvitationClosed("This invitation was already accepted; remove the member instead.")
    _close(session, invitation, InvitationStatus.REVOKED, actor_id=actor.id)


def list_invitations(session: Session, actor: Account, team_id: str) -> list[Invitation]:
    """For the team's members (docs/api.md); a support agent has no business with invitees."""
    authorize_member(session, actor, team_id)
    return list(
        session.scalars(
            select(Invitation)
            .where(Invitation.team_id == team_id)
            .order_by(Invitation.created_at.desc(), Invitation.id)
        )
    )


def preview_invitation(session: Session, token: str) -> Preview[Invitation]:
    """What the link's holder is invited to, and by whom, before accepting."""
    return LINK.preview(session, token)


def accept_invitation(
    session: Session,
    passwords: Passwords,
    policy: AccountPolicy,
    *,
    token: str,
    name: str,
    password: str,
    client: Client,
) -> tuple[IssuedSession, Team, Role]:
    """Create the account and its membership in one transaction; the link is used up.

    The link proves the email, so the account is verified, and any unverified accounts with
    the address (someone who typed it at sign-up) are deleted with their sessions and teams.
    Locks the team (as every change to a team's members does, so the inviter's role cannot
    change meanwhile), then the invitation (so two accepts of one token make one account),
    and only then checks that the link is usable. The password is hashed in between, once
    the link is known to be good, outside any transaction.
    """
    name = clean_name(name, MAX_PERSON_NAME_LENGTH)
    LINK.usable(session, token, lock=False)
    end_reads(session)
    password_hash = hash_new_password(session, passwords, password)
    found = LINK.usable(session, token, lock=False)
    team = lock_team(session, found.team_id)
    invitation = LINK.usable(session, token, lock=True)
    if verified_account(session, invitation.email) is not None:
        raise AccountExists(
            "An account with this email exists already; sign in instead, and ask "
            "the team's owner to open a migration ticket."
        )
    try:
        account = create_account(
            session,
            email=invitation.email,
            name=name,
            password_hash=password_hash,
            verified=True,
        )
    except EmailTaken:
        raise AccountExists(
            "An account with this email was just created; sign in instead."
        ) from None
    role = Role(invitation.role)
    now = utcnow()
    session.add(Membership(account_id=account.id, team_id=team.id, role=role, joined_at=now))
    invitation.accepted_at = now
    invitation.account_id = account.id
    event = _close(
        session,
        invitation,
        InvitationStatus.ACCEPTED,
        actor_id=account.id,
        email=account.email,
        role=role,
        account_id=account.id,
    )
    inviter = session.get(Account, invitation.inviter_id)
    if inviter is not None:
        told = emails.invitation_accepted(event, team, inviter=inviter, member=account, role=role)
        emails.queue_email(session, told)
    return start_session(session, account, policy, client), team, role


def expire_invitations(session: Session, *, limit: int = 500) -> int:
    """The sweep: mark live invitations past their expiry ``expired`` and kill their links."""
    due = past_expiry(session, Invitation, Invitation.status.in_(LIVE), limit=limit)
    for invitation in due:
        _expire(session, invitation)
    return len(due)


# --- for the invitation job --------------------------------------------------------------


class Round(NamedTuple):
    """One round of an invitation: one email, one link. Its job carries it, so a superseded
    round's job (or its death) never touches a newer one."""

    invitation_id: str
    rotation: int

    @classmethod
    def of_job(cls, args: Mapping[str, str]) -> Round:
        return cls(args["invitation_id"], int(args["rotation"]))


def prepare_invitation_email(session: Session, round_: Round, secret: bytes) -> LinkEmail | None:
    """Re-check at run time and give this round's email and token; ``None`` when nothing
    should go out: the round was superseded, or the invitation is no longer pending.

    The inviter must still be an owner (else the invitation ``failed``) and the invitation
    unexpired (else ``expired``)."""
    invitation_id, rotation = round_
    # The invitation (locked), its team, its inviter and the inviter's role there, at once. (On
    # PostgreSQL a role changed while this waited for the invitation's lock is read as it was;
    # accepting re-checks the inviter, so a demoted inviter's link still admits no one.)
    row = session.execute(
        select(Invitation, Team, Account, Membership.role)
        .outerjoin(Team, Team.id == Invitation.team_id)
        .outerjoin(Account, Account.id == Invitation.inviter_id)
        .outerjoin(
            Membership,
            and_(Membership.account_id == Invitation.inviter_id, Membership.team_id == Team.id),
        )
        .where(Invitation.id == invitation_id)
        .with_for_update(of=Invitation)
    ).first()
    if row is None:
        return None
    invitation, team, inviter, inviter_role = row
    if invitation.rotation != rotation or invitation.status != InvitationStatus.PENDING:
        return None
    if invitation.expires_at <= utcnow():
        _expire(session, invitation)
        return None
    if team is None or inviter is None or inviter_role != Role.OWNER:
        fail_invitation(
            session, invitation_id, rotation, "The inviter is no longer an owner of the team."
        )
        return None
    # The token is the same for every retry of a round and different for every round: a
    # renewal or resend kills the old link, a retried or duplicated job sends a working one.
    email = emails.invitation(invitation, team, inviter)
    return email_link(session, invitation, LINK_KIND, secret, email, invitation.id, rotation)


def record_delivery(session: Session, round_: Round, status: EmailStatus) -> None:
    """Carry the round's email status over to the invitation: ``sent`` (when the email was),
    or ``failed`` with the mail server's reason (read from the email). A later round (a
    resend meanwhile) is left to its own job. ``status`` is what this run's send got: a
    stale run that the server answered "250" marks the invitation sent even if another run
    had given the email up meanwhile, since the server did take it."""
    invitation_id, rotation = round_
    cause = emails.invitation_cause(invitation_id, rotation)
    if status == EmailStatus.SENT:
        # One statement: the round's invitation, if still pending, is sent when its email was.
        sent_at = select(Email.sent_at).where(Email.cause == cause).scalar_subquery()
        session.execute(
            update(Invitation)
            .where(
                Invitation.id == invitation_id,
                Invitation.status == InvitationStatus.PENDING,
                Invitation.rotation == rotation,
            )
            .values(status=InvitationStatus.SENT, sent_at=func.coalesce(sent_at, utcnow()))
            .execution_options(synchronize_session=False)
        )
        return
    email = session.scalar(select(Email).where(Email.cause == cause))
    if email is None:
        return
    if email.status in (EmailStatus.FAILED, EmailStatus.DEAD):
        fail_invitation(
            session,
            invitation_id,
            rotation,
            f"The invitation email could not be delivered: {email.last_error}",
        )


def fail_invitation(session: Session, invitation_id: str, rotation: int, reason: str) -> None:
    """Record that round ``rotation`` could not be delivered, and kill its link."""
    invitation = session.get(Invitation, invitation_id, with_for_update=True)
    if (
        invitation is None
        or invitation.status != InvitationStatus.PENDING
        or invitation.rotation != rotation
    ):
        return
    invitation.failure_reason = reason
    _close(session, invitation, InvitationStatus.FAILED, reason=reason)


def _expire(session: Session, invitation: Invitation) -> None:
    _close(session, invitation, InvitationStatus.EXPIRED)


def _round_died(session: Session, round_: Round, reason: str) -> None:
    fail_invitation(session, *round_, f"The invitation email could not be delivered: {reason}")


#: For the job that emails a round (``send_invitation``).
SENDING = LinkSending(
    key=Round.of_job,
    email_cause=lambda round_: emails.invitation_cause(*round_),
    prepare=prepare_invitation_email,
    record=record_delivery,
    died=_round_died,
)


# --- rules shared by the use cases above ---------------------------------------------------


def _send_round(session: Session, invitation: Invitation) -> None:
    """Queue the job that sends this round's email; it carries the round, so a superseded
    round's job (or its death) never touches a newer one."""
    enqueue_job(
        session,
        JobName.SEND_INVITATION,
        invitation_id=invitation.id,
        rotation=str(invitation.rotation),
    )


def _close(
    session: Session,
    invitation: Invitation,
    status: InvitationStatus,
    *,
    actor_id: str | None = None,
    **details: object,
) -> Event:
    """End the invitation ``status``: its link dies, and the team's log says so."""
    invitation.status = status
    invitation.token_digest = None
    return record_event(
        session,
        team_id=invitation.team_id,
        actor_id=actor_id,
        action=f"invitation.{status}",
        target=invitation.id,
        details={"email": invitation.email, **details},
    )


def _rotate(invitation: Invitation, now: datetime, policy: InvitationPolicy) -> None:
    invitation.rotation += 1
    invitation.status = InvitationStatus.PENDING
    invitation.token_digest = None  # the old link dies now, before the new one is sent
    invitation.expires_at = now + policy.ttl
    invitation.failure_reason = None
    invitation.sent_at = None


def _refuse_existing_account(account: Account | None, team_id: str) -> None:
    """A verified account with the email cannot be invited; an unverified one does not count
    (typing an address at sign-up proves nothing, and must not block its holder)."""
    if account is None:
        return
    if account.membership is not None and account.membership.team_id == team_id:
        raise AlreadyMember("This person is already a member of the team.")
    raise AccountExists(
        "This email already has a teamkeys account, so it cannot be invited. Ask support to move "
        f"it: open a migration ticket with POST /v1/teams/{team_id}/migration-tickets."
    )


def _check_daily_limit(session: Session, team_id: str, policy: InvitationPolicy) -> None:
    """Count what the team sent in the last 24 hours, from its audit events."""
    since = utcnow() - timedelta(hours=24)
    sent, oldest = session.execute(
        select(func.count(), func.min(Event.at)).where(
            Event.team_id == team_id, Event.action.in_(SENDING_ACTIONS), Event.at > since
        )
    ).one()
    if sent >= policy.daily_limit:
        wait = math.ceil((oldest + timedelta(hours=24) - utcnow()).total_seconds())
        raise Throttled(
            f"This team has sent {policy.daily_limit} invitations in the last 24 "
            "hours, the most it may.",
            retry_after=max(wait, 1),
            code="invitation_limit",
        )


def _invitation(
    session: Session, team_id: str, invitation_id: str, *, lock: bool = False
) -> Invitation:
    query = select(Invitation).where(Invitation.id == invitation_id, Invitation.team_id == team_id)
    query = query.with_for_update().execution_options(populate_existing=True) if lock else query
    invitation = session.scalar(query)
    if invitation is None:
        raise NotFound("No such invitation in this team.", code="no_such_invitation")
    return invitation


# --- the link ------------------------------------------------------------------------------

#: The link: ``/invitations/<token>`` on the web console.
LINK_KIND = LinkKind("invitation", "inv", "invitations", url_key="accept_url")
#: Unknown, rotated, used, revoked and expired links all answer 410 alike, and so does an
#: invitation whose inviter is no longer an owner of the team.
LINK = TeamLink(
    Invitation,
    is_open=lambda invitation: invitation.status in LIVE,
    sender_id=lambda invitation: invitation.inviter_id,
    unusable=Refusal(
        "This invitation link is no longer valid: it was used, revoked, replaced by a newer "
        "one, or it expired. Ask the team's owner for a new one.",
        "invitation_unusable",
    ),
    expired=Refusal(
        "This invitation has expired. Ask the team's owner for a new one.", "invitation_expired"
    ),
    sender_not_owner=Refusal(
        "The person who sent this invitation is no longer an owner of the team.",
        "inviter_not_owner",
    ),
)
