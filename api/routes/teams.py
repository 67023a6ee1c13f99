"""Team and members (docs/api.md): view, list, change a role, remove or leave, audit events."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from api.deps import CurrentAccount, UowDep
from api.routing import answer, api_router, committed, empty_answer
from api.schemas import EventList, MemberList, MemberOut, RoleChange, TeamOut
from domain import teams
from domain.models import Role

router = api_router(prefix="/v1/teams", tags=["teams"])


@router.get("/{team_id}", **answer(TeamOut, 401, 404))
def get_team(team_id: str, uow: UowDep, account: CurrentAccount) -> TeamOut:
    return TeamOut.model_validate(teams.get_team(uow.session, account, team_id))


@router.get("/{team_id}/members", **answer(MemberList, 401, 404))
def list_members(team_id: str, uow: UowDep, account: CurrentAccount) -> MemberList:
    return MemberList.of(teams.list_members(uow.session, account, team_id))


@router.patch("/{team_id}/members/{account_id}", **answer(MemberOut, 400, 401, 403, 404, 409, 422))
def change_role(
    team_id: str,
    account_id: str,
    body: RoleChange,
    uow: UowDep,
    account: CurrentAccount,
) -> MemberOut:
    """Owners change a member's role; the last owner cannot be demoted (409 ``last_owner``)."""
    member = teams.change_role(uow.session, account, team_id, account_id, Role(body.role))
    return committed(uow, MemberOut.model_validate(member))


@router.delete("/{team_id}/members/{account_id}", **empty_answer(204, 401, 403, 404, 409))
def remove_member(team_id: str, account_id: str, uow: UowDep, account: CurrentAccount) -> Response:
    """Owners remove a member; any member removes itself (leaves). The account that goes gets a
    new personal team."""
    teams.remove_member(uow.session, account, team_id, account_id)
    return committed(uow, Response(status_code=204))


@router.get("/{team_id}/events", **answer(EventList, 401, 403, 404, 422))
def list_events(
    team_id: str,
    uow: UowDep,
    account: CurrentAccount,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EventList:
    """The team's audit events, newest first, the ``offset`` newest skipped (owners only):
    page back as far as the team's first event."""
    return EventList.of(
        teams.list_events(uow.session, account, team_id, limit=limit, offset=offset)
    )
