"""Support routes: what support agents see and settle. Customers get 403 here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from api.deps import SupportAgent, UowDep
from api.routing import answer, api_router, committed
from api.schemas import (
    ApproveTicket,
    Decision,
    EmailList,
    EmailOut,
    InvoiceRunList,
    InvoiceRunOut,
    NextInvoiceRun,
    RejectTicket,
    SupportProductionApplication,
    SupportProductionApplicationList,
    SupportTicketList,
    SupportTicketOut,
)
from domain import billing, email_log, migration_tickets, production
from domain.clock import utcnow
from domain.models import ApplicationStatus, EmailStatus, TicketStatus

router = api_router(prefix="/v1/support", tags=["support"])


@router.get("/emails", **answer(EmailList, 401, 403, 422))
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
    return EmailList.of(emails)


@router.post("/emails/{email_id}/resend", **answer(EmailOut, 401, 403, 404, 409, status=202))
def resend_email(email_id: str, uow: UowDep, agent: SupportAgent) -> EmailOut:
    """Send a failed or dead email again: queued once more with a new budget of attempts and
    the same Message-ID. 409 ``email_not_resendable`` unless it is failed or dead, or if it
    carries a single-use link (its own flow sends a new one)."""
    email = email_log.resend_email(uow.session, agent, email_id)
    return committed(uow, EmailOut.model_validate(email))


@router.get("/invoice-runs", **answer(InvoiceRunList, 401, 403, 422))
def list_invoice_runs(
    uow: UowDep,
    agent: SupportAgent,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> InvoiceRunList:
    """Runs of monthly invoices, newest first: by the scheduler (finished when the last of its
    teams' jobs is) or by `teamkeys invoices generate`; and when the next one is due."""
    runs = billing.invoice_runs(uow.session, agent, limit=limit)
    period, due = billing.next_run(utcnow())
    return InvoiceRunList(
        items=[InvoiceRunOut.model_validate(run) for run in runs],
        next=NextInvoiceRun(period=str(period), due_at=due),
    )


@router.get("/production-applications", **answer(SupportProductionApplicationList, 401, 403, 422))
def list_production_applications(
    uow: UowDep,
    agent: SupportAgent,
    status: Annotated[ApplicationStatus | None, Query()] = None,
) -> SupportProductionApplicationList:
    """Applications by status, oldest first: ``manual_review`` is the queue to work."""
    found = production.applications_for_support(uow.session, agent, status)
    return SupportProductionApplicationList.of(found)


def _settle(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent, approve: bool
) -> SupportProductionApplication:
    view = production.settle_manual_review(
        uow.session, agent, application_id, approve=approve, reason=body.reason
    )
    return committed(uow, SupportProductionApplication.model_validate(view))


@router.post(
    "/production-applications/{application_id}/approve",
    **answer(SupportProductionApplication, 400, 401, 403, 404, 409, 422),
)
def approve_production_application(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent
) -> SupportProductionApplication:
    """Approve an application in manual review, with the reason owners will read."""
    return _settle(application_id, body, uow, agent, approve=True)


@router.post(
    "/production-applications/{application_id}/reject",
    **answer(SupportProductionApplication, 400, 401, 403, 404, 409, 422),
)
def reject_production_application(
    application_id: str, body: Decision, uow: UowDep, agent: SupportAgent
) -> SupportProductionApplication:
    """Reject an application in manual review, with the reason owners will read."""
    return _settle(application_id, body, uow, agent, approve=False)


@router.get("/migration-tickets", **answer(SupportTicketList, 401, 403, 422))
def list_migration_tickets(
    uow: UowDep,
    agent: SupportAgent,
    status: Annotated[TicketStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = migration_tickets.TICKET_PAGE,
) -> SupportTicketList:
    """Tickets oldest first, optionally of one status, with what an agent needs to decide:
    the account's current team (members, owners, whether it is the sole owner) and the
    ticket's history."""
    views = migration_tickets.list_tickets(uow.session, agent, status=status, limit=limit)
    return SupportTicketList.of(views)


@router.get("/migration-tickets/{ticket_id}", **answer(SupportTicketOut, 401, 403, 404))
def get_migration_ticket(ticket_id: str, uow: UowDep, agent: SupportAgent) -> SupportTicketOut:
    view = migration_tickets.get_ticket(uow.session, agent, ticket_id)
    return SupportTicketOut.model_validate(view)


@router.post(
    "/migration-tickets/{ticket_id}/approve",
    **answer(SupportTicketOut, 400, 401, 403, 404, 409, 422, status=202),
)
def approve_migration_ticket(
    ticket_id: str, body: ApproveTicket, uow: UowDep, agent: SupportAgent
) -> SupportTicketOut:
    """Approve a ticket awaiting review; the migration job then re-checks and moves the
    account. Any other status is 409 ``ticket_not_awaiting_review``."""
    view = migration_tickets.approve_ticket(uow.session, agent, ticket_id, note=body.note)
    return committed(uow, SupportTicketOut.model_validate(view))


@router.post(
    "/migration-tickets/{ticket_id}/reject",
    **answer(SupportTicketOut, 400, 401, 403, 404, 409, 422),
)
def reject_migration_ticket(
    ticket_id: str, body: RejectTicket, uow: UowDep, agent: SupportAgent
) -> SupportTicketOut:
    """Reject a ticket awaiting review with a reason; requester and account holder are told."""
    view = migration_tickets.reject_ticket(uow.session, agent, ticket_id, reason=body.reason)
    return committed(uow, SupportTicketOut.model_validate(view))
