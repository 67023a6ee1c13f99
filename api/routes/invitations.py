"""Invitations (docs/api.md): owners invite, resend and revoke; the link's holder previews and
accepts."""

from __future__ import annotations

from fastapi import Response

from api.deps import ClientDep, CurrentAccount, ServicesDep, UowDep
from api.routing import answer, api_router, committed, empty_answer
from api.schemas import (
    AcceptedInvitation,
    AcceptInvitation,
    AccountOut,
    InvitationList,
    InvitationOut,
    InvitationPreview,
    InvitationRequest,
    TeamOut,
)
from domain import invitations
from domain.accounts import Client, IssuedSession
from domain.models import Role, Team
from infra.db import UnitOfWork
from infra.services import Services

router = api_router(prefix="/v1", tags=["invitations"])


@router.post(
    "/teams/{team_id}/invitations",
    **answer(InvitationOut, 400, 401, 403, 404, 409, 422, 429, status=202),
)
def invite(
    team_id: str,
    body: InvitationRequest,
    uow: UowDep,
    account: CurrentAccount,
    services: ServicesDep,
) -> InvitationOut:
    """Invite an email with a role (owners). Inviting an email that has a live invitation
    renews it: a new link (the old one dies), a new expiry, a new email."""
    invitation = invitations.invite_member(
        uow.session,
        account,
        team_id,
        email=body.email,
        role=body.role,
        policy=services.invitation_policy,
    )
    return committed(uow, InvitationOut.model_validate(invitation))


@router.get("/teams/{team_id}/invitations", **answer(InvitationList, 401, 403, 404))
def list_invitations(team_id: str, uow: UowDep, account: CurrentAccount) -> InvitationList:
    return InvitationList.of(invitations.list_invitations(uow.session, account, team_id))


@router.post(
    "/teams/{team_id}/invitations/{invitation_id}/resend",
    **answer(InvitationOut, 401, 403, 404, 409, 429, status=202),
)
def resend(
    team_id: str,
    invitation_id: str,
    uow: UowDep,
    account: CurrentAccount,
    services: ServicesDep,
) -> InvitationOut:
    invitation = invitations.resend_invitation(
        uow.session, account, team_id, invitation_id, policy=services.invitation_policy
    )
    return committed(uow, InvitationOut.model_validate(invitation))


@router.delete(
    "/teams/{team_id}/invitations/{invitation_id}", **empty_answer(204, 401, 403, 404, 409)
)
def revoke(team_id: str, invitation_id: str, uow: UowDep, account: CurrentAccount) -> Response:
    invitations.revoke_invitation(uow.session, account, team_id, invitation_id)
    return committed(uow, Response(status_code=204))


@router.get("/invitations/{token}", **answer(InvitationPreview, 410))
def preview(token: str, uow: UowDep) -> InvitationPreview:
    """What the link's holder is invited to. Any link that cannot be used is 410."""
    return InvitationPreview.model_validate(invitations.preview_invitation(uow.session, token))


@router.post("/invitations/accept", **answer(AcceptedInvitation, 400, 409, 410, 422, status=201))
def accept(
    body: AcceptInvitation, uow: UowDep, services: ServicesDep, client: ClientDep
) -> AcceptedInvitation:
    """Create the account and its membership; answers a session token for it. The link
    proves the email, so the account is verified at once."""
    issued, team, role = accept_with(uow, services, body, client)
    return committed(
        uow,
        AcceptedInvitation(
            account=AccountOut.model_validate(issued.account),
            team=TeamOut.model_validate(team),
            role=role,
            token=issued.token,
            expires_at=issued.expires_at,
        ),
    )


def accept_with(
    uow: UnitOfWork, services: Services, body: AcceptInvitation, client: Client
) -> tuple[IssuedSession, Team, Role]:
    """The domain call behind accepting, made by the invitation's page too
    (``web.routes.public``): the same services and body, so both refuse alike."""
    return invitations.accept_invitation(
        uow.session,
        services.passwords,
        services.account_policy,
        token=body.token,
        name=body.name,
        password=body.password,
        client=client,
    )
