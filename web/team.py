"""What every team page starts from: the signed-in, verified member and their own team.

Team pages have no team in their address: an account is in exactly one team, and its pages
are that team's. Someone who is in no team (a support agent) gets the 404 page; each page
still asks the permission table for what it shows and does (``domain.teams.authorize``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from api.deps import UowDep
from domain.errors import NotFound
from domain.models import Account, Membership, Role, Team
from web.render import render
from web.session import PageAccount


@dataclass(frozen=True)
class TeamPage:
    account: Account
    team: Team
    role: Role

    @property
    def team_id(self) -> str:
        return self.team.id

    @property
    def is_owner(self) -> bool:
        return self.role is Role.OWNER


def team_page(account: PageAccount, uow: UowDep) -> TeamPage:
    membership = uow.session.get(Membership, account.id)
    if membership is None:
        raise NotFound("You are in no team.")
    team = uow.session.get(Team, membership.team_id)
    assert team is not None
    return TeamPage(account, team, Role(membership.role))


MyTeam = Annotated[TeamPage, Depends(team_page)]


def section_page(
    request: Request,
    team: TeamPage | None,
    section: str,
    title: str,
    status: int = 200,
    *,
    template: str | None = None,
    **context: Any,
) -> Response:
    """A page of the team console: its section's template (``team/<section>.html`` unless
    ``template`` says otherwise) with the team, and the section the console's menu marks."""
    return render(
        request,
        template or f"team/{section}.html",
        status,
        title=title,
        team=team,
        section=section,
        **context,
    )
