"""Support routes: what support agents see and settle. Customers get 403 here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import SupportAgent, UowDep
from api.errors import error_responses
from api.schemas import (
    ApproveTicket,
    CurrentTeamOut,
    Decision,
    EmailList,
    EmailOut,
    RejectTicket,
    SupportProductionApplication,
    SupportProductionApplicationList,
    SupportTicketList,
    SupportTicketOut,
    TeamRef,
    TicketChangeOut,
)
from domain import email_log, migration_tickets, production
from domain.migration_tickets import TicketView
from domain.models import (
    ApplicationStatus,
    EmailStatus,
    Role,
    TicketStatus,
)

router = APIRouter(prefix="/v1/support", tags=["support"])


@router.get("/emails", response_model=EmailList, responses=error_responses(401, 403, 422))
def list_emails(
    uow: UowDep,
    agent: SupportAgent,
    status: Annotated[Literal["queued", "sent", "failed", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EmailList:
    """Emails by status, newest first: ``dead`` ones ran out of retries, ``failed`` ones were
    refused for good by the mail server; ``last_error`` says why."""
    emails = email_log.emails_for_support(
        uow.session, agent, status=EmailStatus(status) if status else None, limit=limit
    )
    return EmailList(
        items=[
            EmailOut(
                id=e.id,
                template=e.template,
                to_address=e.to_address,
                team_id=e.team_id,
                status=EmailStatus(e.status),
                attempts=e.attempts,
                last_error=e.last_error,
                created_at=e.created_at,
                sent_at=e.sent_at,
            )
            for e in emails
        ]
    )


def support_application(view: production.ApplicationView) -> SupportProductionApplication:
    application, team = view.application, view.team
    return SupportProductionApplication(
        id=application.id,
        status=ApplicationStatus(application.status),
        team=TeamRef(id=team.id, name=team.name),
        company_name=application.company_name,
        website=application.website,
        use_case=application.use_case,
        expected_monthly_requests=application.expected_monthly_requests,
        contact_email=application.contact_email,
        submitted_by=application.submitted_by,
        submitted_at=application.submitted_at,
        decided_at=application.decided_at,
        reasons=list(application.reasons),
    )


@router.get(
    "/production-applications",
    response_model=SupportProductionApplicationList,
    responses=error_responses(401, 403, 422),
)
def list_production_applications(
    uow: UowDep,
    agent: SupportAgent,
    status: Annotated[ApplicationStatus | None, Query()] = None,
) -> SupportProductionApplicationList:
    """Applications by status, oldest first: ``manual_review`` is the queue to work."""
    found = production.applications_for_support(uow.session, agent, status)
    return SupportProductionApplicationList(items=[support_application(v) for v in found])


def _settle(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent, approve: bool
) -> SupportProductionApplication:
    view = production.settle_manual_review(
        uow.session, agent, application_id, approve=approve, reason=body.reason
    )
    uow.commit()
    return support_application(view)


@router.post(
    "/production-applications/{application_id}/approve",
    response_model=SupportProductionApplication,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def approve_production_application(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent
) -> SupportProductionApplication:
    """Approve an application in manual review, with the reason owners will read."""
    return _settle(application_id, body, uow, agent, approve=True)


@router.post(
    "/production-applications/{application_id}/reject",
    response_model=SupportProductionApplication,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def reject_production_application(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent
) -> SupportProductionApplication:
    """Reject an application in manual review, with the reason owners will read."""
    return _settle(application_id, body, uow, agent, approve=False)


def support_ticket_out(view: TicketView) -> SupportTicketOut:
    ticket, current = view.ticket, view.current_team
    return SupportTicketOut(
        id=ticket.id,
        status=TicketStatus(ticket.status),
        requester_id=view.requester.id,
        requester_email=view.requester.email,
        requester_name=view.requester.name,
        account_id=view.account.id,
        account_email=view.account.email,
        account_name=view.account.name,
        target_team=TeamRef(id=view.target_team.id, name=view.target_team.name),
        current_team=None
        if current is None
        else CurrentTeamOut(
            id=current.team.id,
            name=current.team.name,
            member_count=current.member_count,
            owner_count=current.owner_count,
            account_role=current.account_role,
            account_is_sole_owner=current.account_is_sole_owner,
        ),
        role=Role(ticket.role),
        note=ticket.note,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        expires_at=ticket.expires_at,
        failure_reason=ticket.failure_reason,
        history=[
            TicketChangeOut(
                at=entry.change.at,
                from_status=TicketStatus(entry.change.from_status)
                if entry.change.from_status
                else None,
                to_status=TicketStatus(entry.change.to_status),
                actor_id=entry.change.actor_id,
                actor_email=entry.actor_email,
                note=entry.change.note,
            )
            for entry in view.history
        ],
    )


@router.get(
    "/migration-tickets",
    response_model=SupportTicketList,
    responses=error_responses(401, 403, 422),
)
def list_migration_tickets(
    uow: UowDep,
    agent: SupportAgent,
    status: Annotated[TicketStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> SupportTicketList:
    """Tickets oldest first, optionally of one status, with what an agent needs to decide:
    the account's current team (members, owners, whether it is the sole owner) and the
    ticket's history."""
    views = migration_tickets.list_tickets(uow.session, agent, status=status, limit=limit)
    return SupportTicketList(items=[support_ticket_out(v) for v in views])


@router.get(
    "/migration-tickets/{ticket_id}",
    response_model=SupportTicketOut,
    responses=error_responses(401, 403, 404),
)
def get_migration_ticket(ticket_id: str, uow: UowDep, agent: SupportAgent) -> SupportTicketOut:
    return support_ticket_out(migration_tickets.get_ticket(uow.session, agent, ticket_id))


@router.post(
    "/migration-tickets/{ticket_id}/approve",
    status_code=202,
    response_model=SupportTicketOut,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def approve_migration_ticket(
    ticket_id: str, body: ApproveTicket, uow: UowDep, agent: SupportAgent
) -> SupportTicketOut:
    """Approve a ticket awaiting review; the migration job then re-checks and moves the
    account. Any other status is 409 ``ticket_not_awaiting_review``."""
    view = migration_tickets.approve_ticket(uow.session, agent, ticket_id, note=body.note)
    uow.commit()
    return support_ticket_out(view)


@router.post(
    "/migration-tickets/{ticket_id}/reject",
    response_model=SupportTicketOut,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def reject_migration_ticket(
    ticket_id: str, body: RejectTicket, uow: UowDep, agent: SupportAgent
) -> SupportTicketOut:
    """Reject a ticket awaiting review with a reason; requester and account holder are told."""
    view = migration_tickets.reject_ticket(uow.session, agent, ticket_id, reason=body.reason)
    uow.commit()
    return support_ticket_out(view)
