"""Invitations as rules: who cannot be invited, and the daily limit. The emailed link, accepting
it and its refusals, over HTTP, in tests/e2e/test_invitations.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.orm import Session

from domain import invitations
from domain.errors import Conflict, Throttled
from domain.models import Account, Role
from infra.services import Services
from tests.rules.conftest import People, refused


def invite(
    session: Session,
    services: Services,
    owner: Account,
    team_id: str,
    email: str,
    daily_limit: int | None = None,
) -> None:
    """``POST …/invitations``'s work (with another daily limit, if given)."""
    policy = services.invitation_policy
    if daily_limit is not None:
        policy = replace(policy, daily_limit=daily_limit)
    invitations.invite_member(session, owner, team_id, email=email, role=Role.USER, policy=policy)
    session.commit()


def test_members_and_other_accounts_cannot_be_invited(
    session: Session, services: Services, people: People
) -> None:
    owner = people.sign_up("Carol")
    team_id = people.team_of(owner)
    member = people.join(team_id, "Uma")
    other = people.sign_up("Olga")

    with refused(session, Conflict, "already_member"):
        invite(session, services, owner, team_id, member.email.upper())
    with pytest.raises(Conflict) as taken:
        invite(session, services, owner, team_id, other.email)
    assert taken.value.code == "account_exists" and "migration ticket" in taken.value.message


def test_the_daily_limit_is_per_team(session: Session, services: Services, people: People) -> None:
    carol = people.sign_up("Carol")
    carols_team = people.team_of(carol)
    for n in range(3):
        invite(session, services, carol, carols_team, f"p{n}@example.com", daily_limit=3)

    with pytest.raises(Throttled) as over:
        invite(session, services, carol, carols_team, "p9@example.com", daily_limit=3)
    assert over.value.code == "invitation_limit" and over.value.retry_after > 0
    session.rollback()
    # Another team has its own allowance.
    olga = people.sign_up("Olga")
    invite(session, services, olga, people.team_of(olga), "p9@example.com", daily_limit=3)
