"""Migration tickets (docs/api.md): owners ask support to move an existing account into their team;
the account holder consents through the emailed link."""

from __future__ import annotations

from fastapi import Response

from api.deps import CurrentAccount, ServicesDep, UowDep
from api.routing import answer, api_router, committed, empty_answer
from api.schemas import (
    MigrationConsentDecision,
    MigrationConsentPreview,
    MigrationConsentResult,
    MigrationTicketList,
    MigrationTicketOut,
    MigrationTicketRequest,
)
from domain import migration_tickets

router = api_router(prefix="/v1", tags=["migration tickets"])


@router.post(
    "/teams/{team_id}/migration-tickets",
    **answer(MigrationTicketOut, 400, 401, 403, 404, 409, 422, 429, status=202),
)
def open_ticket(
    team_id: str,
    body: MigrationTicketRequest,
    uow: UowDep,
    account: CurrentAccount,
    services: ServicesDep,
) -> MigrationTicketOut:
    """Ask support to move an existing account into the team (owners). Its holder is emailed
    a link to accept or decline first. 404 ``no_such_account``; 409 ``already_member``, or
    ``ticket_already_open`` when the account has an open ticket."""
    ticket = migration_tickets.open_ticket(
        uow.session,
        account,
        team_id,
        email=body.email,
        role=body.role,
        note=body.note,
        policy=services.migration_policy,
        limits=services.limiter,
    )
    return committed(uow, MigrationTicketOut.model_validate(ticket))


@router.get("/teams/{team_id}/migration-tickets", **answer(MigrationTicketList, 401, 403, 404))
def list_tickets(team_id: str, uow: UowDep, account: CurrentAccount) -> MigrationTicketList:
    """The team's tickets, newest first (owners)."""
    found = migration_tickets.list_team_tickets(uow.session, account, team_id)
    return MigrationTicketList.of(found)


@router.delete(
    "/teams/{team_id}/migration-tickets/{ticket_id}", **empty_answer(204, 401, 403, 404, 409)
)
def cancel(team_id: str, ticket_id: str, uow: UowDep, account: CurrentAccount) -> Response:
    """Withdraw a ticket before a support agent approves it; afterwards 409 ``ticket_closed``."""
    migration_tickets.cancel_ticket(uow.session, account, team_id, ticket_id)
    return committed(uow, Response(status_code=204))


@router.get("/migration-consents/{token}", **answer(MigrationConsentPreview, 410))
def preview(token: str, uow: UowDep) -> MigrationConsentPreview:
    """Who asks to move the link holder's account, and into which team. Unusable links: 410."""
    found = migration_tickets.preview_consent(uow.session, token)
    return MigrationConsentPreview.model_validate(found)


@router.post("/migration-consents", **answer(MigrationConsentResult, 400, 410, 422))
def decide(body: MigrationConsentDecision, uow: UowDep) -> MigrationConsentResult:
    """Accept (the ticket then awaits a support agent's review) or decline (it ends)."""
    ticket = migration_tickets.decide_consent(
        uow.session, body.token, accept=body.decision == "accept"
    )
    return committed(uow, MigrationConsentResult.model_validate(ticket))
