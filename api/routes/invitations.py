"""Invitations (docs/api.md): owners invite, resend and revoke; the link's holder previews and
accepts."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ClientDep, CurrentAccount, ServicesDep, UowDep
from api.errors import error_responses
from api.routes.accounts import account_out, team_out
from api.schemas import (
    AcceptedInvitation,
    AcceptInvitation,
    InvitationList,
    InvitationOut,
    InvitationPreview,
    InvitationRequest,
)
from domain import invitations
from domain.models import Invitation, InvitationStatus, Role

router = APIRouter(prefix="/v1", tags=["invitations"])


def invitation_out(invitation: Invitation) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=Role(invitation.role),
        status=InvitationStatus(invitation.status),
        expires_at=invitation.expires_at,
        created_at=invitation.created_at,
        sent_at=invitation.sent_at,
        accepted_at=invitation.accepted_at,
        failure_reason=invitation.failure_reason,
    )


@router.post(
    "/teams/{team_id}/invitations",
    status_code=202,
    response_model=InvitationOut,
    responses=error_responses(400, 401, 403, 404, 409, 422, 429),
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
    uow.commit()
    return invitation_out(invitation)


@router.get(
    "/teams/{team_id}/invitations",
    response_model=InvitationList,
    responses=error_responses(401, 403, 404),
)
def list_invitations(team_id: str, uow: UowDep, account: CurrentAccount) -> InvitationList:
    return InvitationList(
        items=[
            invitation_out(i) for i in invitations.list_invitations(uow.session, account, team_id)
        ]
    )


@router.post(
    "/teams/{team_id}/invitations/{invitation_id}/resend",
    status_code=202,
    response_model=InvitationOut,
    responses=error_responses(401, 403, 404, 409, 429),
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
    uow.commit()
    return invitation_out(invitation)


@router.delete(
    "/teams/{team_id}/invitations/{invitation_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409),
)
def revoke(team_id: str, invitation_id: str, uow: UowDep, account: CurrentAccount) -> Response:
    invitations.revoke_invitation(uow.session, account, team_id, invitation_id)
    uow.commit()
    return Response(status_code=204)


@router.get(
    "/invitations/{token}", response_model=InvitationPreview, responses=error_responses(410)
)
def preview(token: str, uow: UowDep) -> InvitationPreview:
    """What the link's holder is invited to. Any link that cannot be used is 410."""
    found = invitations.preview_invitation(uow.session, token)
    return InvitationPreview(
        team_name=found.team.name,
        inviter_name=found.sender.name,
        email=found.link.email,
        role=Role(found.link.role),
        expires_at=found.link.expires_at,
    )


@router.post(
    "/invitations/accept",
    status_code=201,
    response_model=AcceptedInvitation,
    responses=error_responses(400, 409, 410, 422),
)
def accept(
    body: AcceptInvitation, uow: UowDep, services: ServicesDep, client: ClientDep
) -> AcceptedInvitation:
    """Create the account and its membership; answers a session token for it. The link
    proves the email, so the account is verified at once."""
    issued, team, role = invitations.accept_invitation(
        uow.session,
        services.passwords,
        services.account_policy,
        token=body.token,
        name=body.name,
        password=body.password,
        client=client,
    )
    uow.commit()
    return AcceptedInvitation(
        account=account_out(issued.account),
        team=team_out(team),
        role=role,
        token=issued.token,
        expires_at=issued.expires_at,
    )
