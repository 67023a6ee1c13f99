"""Teams and members: who is in a team, role changes, removal and leaving (invariants 1, 2)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import emails
from domain.accounts import found_personal_team, require_verified, verified_account
from domain.audit import record_event, team_events
from domain.errors import LastOwner, NotAllowed, NotFound
from domain.models import Account, Event, Membership, Role, Team
from domain.permissions import Actor, Permission, allows, require


def actor_in(session: Session, account: Account, team_id: str) -> Actor | None:
    """What ``account`` is to ``team_id``: its role there, support, or ``None`` (a stranger)."""
    if account.is_support:
        exists = session.scalar(select(Team.id).where(Team.id == team_id, Team.closed_at.is_(None)))
        return Actor.SUPPORT if exists else None
    role = session.scalar(
        select(Membership.role)
        .where(Membership.account_id == account.id, Membership.team_id == team_id)
        .execution_options(populate_existing=True)
    )
    return Actor(role) if role else None


def authorize(session: Session, account: Account, team_id: str, permission: Permission) -> Actor:
    """Ask the permission matrix about ``account`` in ``team_id``; raise 404/403 on refusal.
    An account that has not proven its email may do nothing to any team (403)."""
    require_verified(account)
    return require(actor_in(session, account, team_id), permission)


def authorize_locked(
    session: Session, account: Account, team_id: str, permission: Permission
) -> Team:
    """Lock the team row, if ``account`` may do ``permission`` there, and authorize again
    under the lock; the locked team.

    The lock is asked for only with a role that allows it, so no one else ever waits on a
    stranger's (or a refused member's) lock, and a refusal (404/403) comes without waiting.
    The second ask counts a role that changed while this waited (on PostgreSQL, a statement
    that waited for a lock still reads the joined rows as they were when it began). Every
    change to a team's members, owners or settings goes through here, so two changes to one
    team run one after the other."""
    require_verified(account)
    if account.is_support:
        authorize(session, account, team_id, permission)
        team = lock_team(session, team_id)
    else:
        allowed = [role for role in Role if allows(Actor(role), permission)]
        locked = session.scalar(
            select(Team)
            .join(Membership, Membership.team_id == Team.id)
            .where(
                Team.id == team_id,
                Membership.account_id == account.id,
                Membership.role.in_(allowed),
            )
            # NO KEY UPDATE OF teams: see lock_team.
            .with_for_update(of=Team, key_share=True)
            .execution_options(populate_existing=True)
        )
        if locked is None:
            authorize(session, account, team_id, permission)  # says why: 404 or 403
            raise NotAllowed(f"Your role does not allow this ({permission}).")  # changed since
        team = locked
    authorize(session, account, team_id, permission)
    return team


def authorize_member(session: Session, account: Account, team_id: str) -> Actor:
    """For what docs/api.md gives a team's members but the matrix does not give support (its
    invitations, its production application): strangers 404, support agents 403."""
    require_verified(account)
    actor = actor_in(session, account, team_id)
    if actor is Actor.SUPPORT:
        raise NotAllowed("Support agents do not see this part of a team.")
    return require(actor, Permission.TEAM_VIEW)


def team_owners(session: Session, team_id: str) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .join(Membership, Membership.account_id == Account.id)
            .where(Membership.team_id == team_id, Membership.role == Role.OWNER)
        )
    )


def require_support(account: Account) -> Account:
    """Support work (settling tickets) asks the matrix too; customers of any role get 403."""
    require_verified(account)
    if account.is_support:
        actor = Actor.SUPPORT
    else:
        actor = Actor(account.membership.role) if account.membership else Actor.USER
    require(actor, Permission.SUPPORT_SETTLE)
    return account


def support_agent_by_email(session: Session, email: str) -> Account:
    """The agent acting from a terminal (``teamkeys support tickets``), named by email."""
    account = verified_account(session, email)
    if account is None:
        raise NotFound("No account has this email.", code="no_such_agent")
    return require_support(account)


def get_team(session: Session, account: Account, team_id: str) -> Team:
    authorize(session, account, team_id, Permission.TEAM_VIEW)
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


@dataclass(frozen=True)
class Member:
    account: Account
    membership: Membership


def list_members(session: Session, account: Account, team_id: str) -> list[Member]:
    authorize(session, account, team_id, Permission.TEAM_VIEW)
    return team_members(session, team_id)


def team_members(session: Session, team_id: str) -> list[Member]:
    """The team's members, longest-standing first, for callers that checked who asks."""
    rows = session.execute(
        select(Account, Membership)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.team_id == team_id)
        .order_by(Membership.joined_at, Account.email)
    )
    return [Member(a, m) for a, m in rows.tuples()]


def list_events(
    session: Session, account: Account, team_id: str, *, limit: int, offset: int = 0
) -> list[Event]:
    """The team's audit events, newest first, ``offset`` newer ones skipped (owners)."""
    authorize(session, account, team_id, Permission.EVENTS_VIEW)
    return team_events(session, team_id, limit=limit, offset=offset)


def lock_team(session: Session, team_id: str) -> Team:
    """Lock the team row: every change to a team's owners goes through here first, so two
    changes to one team run one after the other and the owner count they see is current."""
    team = session.scalar(
        select(Team)
        .where(Team.id == team_id)
        # NO KEY UPDATE: it still serializes changes to the team, but does not block the
        # KEY SHARE locks that inserting rows referencing the team (events) takes.
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if team is None:
        raise NotFound("No such team.")
    return team


def _membership(session: Session, team_id: str, account_id: str) -> Membership:
    membership = session.scalar(
        select(Membership)
        .where(Membership.team_id == team_id, Membership.account_id == account_id)
        .execution_options(populate_existing=True)
    )
    if membership is None:
        raise NotFound("No such member in this team.", code="no_such_member")
    return membership


def owner_count(session: Session, team_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.team_id == team_id, Membership.role == Role.OWNER)
        )
        or 0
    )


def member_count(session: Session, team_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Membership).where(Membership.team_id == team_id)
        )
        or 0
    )


def change_role(
    session: Session,
    actor: Account,
    team_id: str,
    member_id: str,
    new_role: Role,
) -> Member:
    """Give a member another role; an owner may demote anyone, itself too, but never the last
    owner. The member and the team's other owners are told by email."""
    team = authorize_locked(session, actor, team_id, Permission.MEMBERS_MANAGE)
    membership = _membership(session, team_id, member_id)
    member = membership.account
    old_role = Role(membership.role)
    if old_role == new_role:
        return Member(member, membership)
    if old_role is Role.OWNER and owner_count(session, team_id) <= 1:
        raise LastOwner("A team needs at least one owner: make someone else an owner first.")
    membership.role = new_role
    event = record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="member.role_changed",
        target=member.id,
        details={"from": old_role, "to": new_role},
    )
    change = emails.MemberChange(event, team, member, actor, team_owners(session, team_id))
    emails.queue_emails(session, emails.role_changed(change, old_role, new_role))
    return Member(member, membership)


def remove_member(session: Session, actor: Account, team_id: str, member_id: str) -> Team:
    """Remove a member (an owner's act) or leave (the member's own); never the last owner.

    The account that goes gets a fresh personal team as its owner (invariant 1), returned here.
    """
    leaving = actor.id == member_id
    team = authorize_locked(
        session, actor, team_id, Permission.TEAM_LEAVE if leaving else Permission.MEMBERS_MANAGE
    )
    membership = _membership(session, team_id, member_id)
    member = membership.account
    if membership.role == Role.OWNER and owner_count(session, team_id) <= 1:
        raise LastOwner(
            "The last owner cannot leave or be removed: make someone else an owner first."
        )
    owners_before = [o for o in team_owners(session, team_id) if o.id != member.id]
    session.delete(membership)
    session.flush()
    new_team = found_personal_team(session, member)
    event = record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="member.left" if leaving else "member.removed",
        target=member.id,
        details={"role": membership.role, "new_team_id": new_team.id},
    )
    change = emails.MemberChange(event, team, member, actor, owners_before)
    emails.queue_emails(session, emails.member_removed(change, new_team))
    return new_team
