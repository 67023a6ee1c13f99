"""The team console: members and invitations (``/team/members``), audit events
(``/team/events``, owners) and the person's own account (``/account``).

Each form calls the domain function the API's route calls (``api/routes/teams.py``,
``invitations.py``, ``accounts.py``) with the same arguments, so a page refuses what the API
refuses, with its message and its status; owner-only controls are hidden from users, and the
domain refuses them anyway."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from api.deps import ClientDep, ServicesDep, UowDep
from api.routes.accounts import change_password_with
from api.schemas import InvitationRequest, PasswordChange, RoleChange
from domain import accounts, invitations, teams
from domain.clock import utcnow
from domain.errors import DomainError, NotAllowed, NotFound
from domain.models import Invitation, InvitationStatus, Role
from web.pages import Form, Invalid, form_error, page_router, parse, settle, status_of_refusal
from web.render import redirect
from web.session import Page, PageAccount
from web.team import MyTeam, TeamPage, section_page, team_page

router = page_router()

#: Audit events shown on one page of ``/team/events``.
EVENTS_PER_PAGE = 50


# --- members and invitations ----------------------------------------------------------------


def _members_page(
    request: Request,
    uow: UowDep,
    team: TeamPage,
    status: int = 200,
    *,
    refused: DomainError | Invalid | None = None,
    about: str = "",
    values: dict[str, str] | None = None,
) -> Response:
    """The members page; a refused form is shown beside the control it came from (``about``:
    ``invite``, ``leave``, ``member:<id>`` or ``invitation:<id>``)."""
    session = uow.session
    members = teams.list_members(session, team.account, team.team_id)
    pending = invitations.list_invitations(session, team.account, team.team_id)
    context: dict[str, Any] = {"error": None, "fields": {}}
    if refused is not None:
        context = form_error(refused)
    return section_page(
        request,
        team,
        "members",
        "Members",
        status,
        members=members,
        invitations=[(invitation, shown_status(invitation)) for invitation in pending],
        about=about,
        values=values or {},
        roles=[Role.USER, Role.OWNER],
        **context,
    )


def shown_status(invitation: Invitation) -> str:
    """What became of an invitation: a link whose time ran out is expired even before the
    sweep (``expire_invitations``) marks it so."""
    live = invitation.status in (InvitationStatus.PENDING, InvitationStatus.SENT)
    if live and invitation.expires_at <= utcnow():
        return InvitationStatus.EXPIRED
    return InvitationStatus(invitation.status)


def _beside(
    request: Request, uow: UowDep, team: TeamPage, about: str, values: dict[str, str] | None = None
) -> Callable[[DomainError | Invalid], Response]:
    """How a refused form answers (for :func:`web.pages.settle`): the page again with the
    refusal beside its control, and the API's status; an unknown member or invitation is the
    404 page, as the API's 404."""

    def refused(refusal: DomainError | Invalid) -> Response:
        if isinstance(refusal, NotFound):
            raise refusal
        return _members_page(
            request,
            uow,
            team,
            status_of_refusal(refusal),
            refused=refusal,
            # A role that may not do it has no control to show it beside: at the page's top.
            about="" if isinstance(refusal, NotAllowed) else about,
            values=values,
        )

    return refused


@router.get("/team/members")
def members_page(request: Request, uow: UowDep, team: MyTeam) -> Response:
    return _members_page(request, uow, team)


@router.post("/team/members/invite")
def invite(
    request: Request, form: Form, uow: UowDep, team: MyTeam, services: ServicesDep
) -> Response:
    """``POST /v1/teams/{id}/invitations``: invite an email with a role (owners)."""

    def act() -> None:
        body = parse(InvitationRequest, form)
        invitations.invite_member(
            uow.session,
            team.account,
            team.team_id,
            email=body.email,
            role=body.role,
            policy=services.invitation_policy,
        )

    values = {"email": form.get("email", ""), "role": form.get("role", "")}
    refused = _beside(request, uow, team, "invite", values)
    return settle(uow, act, "/team/members?done=invited#invitations", refused)


@router.post("/team/members/leave")
def leave(request: Request, form: Form, uow: UowDep, team: MyTeam) -> Response:
    """``DELETE /v1/teams/{id}/members/{own id}``: leave; the person is then in a fresh team of
    their own. The last owner cannot leave (409 ``last_owner``)."""
    del form  # checked
    return settle(
        uow,
        lambda: teams.remove_member(uow.session, team.account, team.team_id, team.account.id),
        "/team/members?done=left",
        _beside(request, uow, team, "leave"),
    )


@router.post("/team/members/{account_id}/role")
def change_role(
    request: Request, account_id: str, form: Form, uow: UowDep, team: MyTeam
) -> Response:
    """``PATCH /v1/teams/{id}/members/{account_id}``: owners change a member's role. An owner
    who made itself a user sees the user's page, from its top."""
    return settle(
        uow,
        lambda: teams.change_role(
            uow.session, team.account, team.team_id, account_id, Role(parse(RoleChange, form).role)
        ),
        "/team/members?done=role_changed"
        + ("" if account_id == team.account.id else f"#member-{account_id}"),
        _beside(request, uow, team, f"member:{account_id}"),
    )


@router.post("/team/members/{account_id}/remove")
def remove_member(
    request: Request, account_id: str, form: Form, uow: UowDep, team: MyTeam
) -> Response:
    """``DELETE /v1/teams/{id}/members/{account_id}``: owners remove a member; removing
    oneself is leaving."""
    del form  # checked
    return settle(
        uow,
        lambda: teams.remove_member(uow.session, team.account, team.team_id, account_id),
        "/team/members?done=" + ("left" if account_id == team.account.id else "removed"),
        _beside(request, uow, team, f"member:{account_id}"),
    )


@router.post("/team/invitations/{invitation_id}/resend")
def resend_invitation(
    request: Request,
    invitation_id: str,
    form: Form,
    uow: UowDep,
    team: MyTeam,
    services: ServicesDep,
) -> Response:
    """``POST /v1/teams/{id}/invitations/{invitation_id}/resend`` (owners)."""
    del form  # checked
    return settle(
        uow,
        lambda: invitations.resend_invitation(
            uow.session,
            team.account,
            team.team_id,
            invitation_id,
            policy=services.invitation_policy,
        ),
        "/team/members?done=resent#invitations",
        _beside(request, uow, team, f"invitation:{invitation_id}"),
    )


@router.post("/team/invitations/{invitation_id}/revoke")
def revoke_invitation(
    request: Request, invitation_id: str, form: Form, uow: UowDep, team: MyTeam
) -> Response:
    """``DELETE /v1/teams/{id}/invitations/{invitation_id}`` (owners)."""
    del form  # checked
    return settle(
        uow,
        lambda: invitations.revoke_invitation(
            uow.session, team.account, team.team_id, invitation_id
        ),
        "/team/members?done=revoked#invitations",
        _beside(request, uow, team, f"invitation:{invitation_id}"),
    )


# --- audit events ---------------------------------------------------------------------------


@router.get("/team/events")
def events_page(request: Request, uow: UowDep, team: MyTeam, page: str = "1") -> Response:
    """``GET /v1/teams/{id}/events``, newest first, in pages of :data:`EVENTS_PER_PAGE` (owners;
    a user gets the 404 page: the domain's NotAllowed)."""
    # ASCII digits only ("²".isdigit() is true, and int() refuses it): anything else, no page.
    number = int(page) if re.fullmatch(r"[0-9]{1,6}", page) else 0
    if number < 1:
        raise NotFound("No such page of events.")
    found = teams.list_events(
        uow.session,
        team.account,
        team.team_id,
        limit=EVENTS_PER_PAGE + 1,  # one more: is there a next page?
        offset=(number - 1) * EVENTS_PER_PAGE,
    )
    shown = found[:EVENTS_PER_PAGE]
    if number > 1 and not shown:
        raise NotFound("No such page of events.")
    more = len(found) > EVENTS_PER_PAGE
    members = {
        m.account.id: m.account for m in teams.list_members(uow.session, team.account, team.team_id)
    }
    return section_page(
        request,
        team,
        "events",
        "Audit events",
        events=shown,
        people=members,
        page=number,
        more=more,
    )


# --- the person's own account ---------------------------------------------------------------


def _account_page(
    request: Request,
    uow: UowDep,
    status: int = 200,
    refused: DomainError | Invalid | None = None,
) -> Response:
    """``/account``: inside the team's layout for a member, on its own for anyone else."""
    page: Page = request.state.page
    assert page.signed_in is not None
    try:
        team: TeamPage | None = team_page(page.signed_in.account, uow)
    except NotFound:
        team = None
    sessions = accounts.list_sessions(uow.session, page.signed_in)
    context: dict[str, Any] = {"error": None, "fields": {}}
    if refused is not None:
        context = form_error(refused)
    return section_page(
        request,
        team,
        "account",
        "Your account",
        status,
        template="team/account.html" if team else "team/account_alone.html",
        sessions=sessions,
        current_session=page.signed_in.session_id,
        **context,
    )


@router.get("/account")
def account_page(request: Request, uow: UowDep, account: PageAccount) -> Response:
    del account  # asked for: a verified, signed-in person
    return _account_page(request, uow)


@router.post("/account/password")
def change_password(
    request: Request,
    form: Form,
    uow: UowDep,
    account: PageAccount,
    services: ServicesDep,
    client: ClientDep,
) -> Response:
    """``PUT /v1/me/password``: the current password and a new one; every other session ends."""
    del account  # asked for: a verified, signed-in person
    page: Page = request.state.page
    assert page.signed_in is not None
    try:
        body = parse(PasswordChange, form)
        change_password_with(uow, services, page.signed_in, body, client)
        uow.commit()
    except (DomainError, Invalid) as refused:
        uow.session.rollback()
        return _account_page(request, uow, status_of_refusal(refused), refused)
    return redirect("/account?done=password")


@router.post("/account/sessions/others/end")
def end_other_sessions(request: Request, form: Form, uow: UowDep, account: PageAccount) -> Response:
    """``DELETE /v1/me/sessions``: sign out everywhere else."""
    del form, account  # checked; a verified, signed-in person
    page: Page = request.state.page
    assert page.signed_in is not None
    accounts.end_other_sessions(uow.session, page.signed_in)
    uow.commit()
    return redirect("/account?done=signed_out_elsewhere")


@router.post("/account/sessions/{session_id}/end")
def end_session(
    request: Request, session_id: str, form: Form, uow: UowDep, account: PageAccount
) -> Response:
    """``DELETE /v1/me/sessions/{session_id}``: end one of your other sessions."""
    del form, account  # checked; a verified, signed-in person
    page: Page = request.state.page
    assert page.signed_in is not None
    accounts.end_session(uow.session, page.signed_in, session_id)  # another's: 404
    uow.commit()
    return redirect("/account?done=session_ended")
