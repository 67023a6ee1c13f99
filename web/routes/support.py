"""The support console (``/support``): agents only. Anyone else signed in gets 404, as if it
did not exist; anyone signed out is asked to sign in.

Each page calls the domain functions the API's support routes call (``api/routes/support.py``),
so a page refuses what the API refuses, with its message and its status."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from api.deps import UowDep
from api.schemas import ApproveTicket, Decision, RejectTicket
from domain import billing, email_log, migration_tickets, production
from domain.clock import utcnow
from domain.errors import DomainError, NotAllowed, NotFound
from domain.models import Account, ApplicationStatus, EmailStatus, TicketStatus
from domain.teams import require_support
from infra.db import UnitOfWork
from web.pages import Form, Invalid, form_error, page_router, parse, status_of_refusal
from web.render import redirect, render
from web.session import PageAccount

router = page_router()

#: The statuses the email page lists: the ones an agent can act on.
EMAIL_QUEUES = (EmailStatus.FAILED, EmailStatus.DEAD)


def _refused(uow: UnitOfWork, refused: DomainError | Invalid) -> tuple[int, dict[str, Any]]:
    """A refusal a form shows beside itself, once the form's changes are undone: the API's
    status for it and what the page shows. An unknown or forbidden thing is the 404 page."""
    if isinstance(refused, NotFound | NotAllowed):
        raise refused
    uow.session.rollback()
    return status_of_refusal(refused), form_error(refused)


@router.get("/support")
def support_home(request: Request, uow: UowDep, account: PageAccount) -> Response:
    require_support(account)
    session = uow.session
    counts = {
        "tickets": migration_tickets.count_tickets(session, account)[TicketStatus.AWAITING_REVIEW],
        "reviews": len(
            production.applications_for_support(session, account, ApplicationStatus.MANUAL_REVIEW)
        ),
        "failed": email_log.count_emails(session, account, EmailStatus.FAILED),
        "dead": email_log.count_emails(session, account, EmailStatus.DEAD),
    }
    return render(request, "support/home.html", title="Support console", counts=counts)


# --- migration tickets ------------------------------------------------------------------------


@router.get("/support/migration-tickets")
def ticket_queue(
    request: Request, uow: UowDep, account: PageAccount, status: str = "awaiting_review"
) -> Response:
    """Tickets of one status, oldest first, with a tab (and its count) for every status."""
    require_support(account)
    try:
        chosen = TicketStatus(status)
    except ValueError:
        raise NotFound("No such ticket status.") from None
    views = migration_tickets.list_tickets(uow.session, account, status=chosen)
    return render(
        request,
        "support/tickets.html",
        title="Migration tickets",
        chosen=chosen,
        counts=migration_tickets.count_tickets(uow.session, account),
        views=views,
    )


def _ticket_page(
    request: Request,
    session: Session,
    agent: Account,
    ticket_id: str,
    status: int = 200,
    **context: Any,
) -> Response:
    view = migration_tickets.get_ticket(session, agent, ticket_id)
    return render(
        request,
        "support/ticket.html",
        status,
        title=f"Migration ticket for {view.account.email}",
        view=view,
        **({"fields": {}, "values": {}} | context),
    )


@router.get("/support/migration-tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: str, uow: UowDep, account: PageAccount) -> Response:
    require_support(account)
    return _ticket_page(request, uow.session, account, ticket_id)


@router.post("/support/migration-tickets/{ticket_id}/approve")
def approve_ticket(
    request: Request, ticket_id: str, form: Form, uow: UowDep, account: PageAccount
) -> Response:
    """``POST /v1/support/migration-tickets/{id}/approve``: the migration job runs next."""
    return _decide_ticket(request, ticket_id, form, uow, account, "approve")


@router.post("/support/migration-tickets/{ticket_id}/reject")
def reject_ticket(
    request: Request, ticket_id: str, form: Form, uow: UowDep, account: PageAccount
) -> Response:
    """``POST /v1/support/migration-tickets/{id}/reject``: both people are told why."""
    return _decide_ticket(request, ticket_id, form, uow, account, "reject")


def _decide_ticket(
    request: Request, ticket_id: str, form: Form, uow: UnitOfWork, account: Account, action: str
) -> Response:
    """Approve (with an optional note) or reject (with a reason) as the API does; a refusal
    is shown on the ticket's page beside the form it came from."""
    require_support(account)
    try:
        if action == "approve":
            note = parse(ApproveTicket, form).note
            migration_tickets.approve_ticket(uow.session, account, ticket_id, note=note)
        else:
            reason = parse(RejectTicket, form).reason
            migration_tickets.reject_ticket(uow.session, account, ticket_id, reason=reason)
        uow.commit()
    except (DomainError, Invalid) as refused:
        status, shown = _refused(uow, refused)
        values = {"note": form.get("note", ""), "reason": form.get("reason", "")}
        return _ticket_page(
            request, uow.session, account, ticket_id, status, action=action, values=values, **shown
        )
    done = "approved" if action == "approve" else "rejected"
    return redirect(f"/support/migration-tickets/{ticket_id}?done={done}")


# --- production reviews -----------------------------------------------------------------------


def _reviews_page(
    request: Request, session: Session, agent: Account, status: int = 200, **context: Any
) -> Response:
    views = production.applications_for_support(session, agent, ApplicationStatus.MANUAL_REVIEW)
    return render(
        request,
        "support/reviews.html",
        status,
        title="Production reviews",
        views=views,
        **({"fields": {}, "values": {}, "failed_id": None} | context),
    )


@router.get("/support/production-reviews")
def reviews(request: Request, uow: UowDep, account: PageAccount) -> Response:
    """Applications the automatic review handed to an agent, oldest first, with its findings."""
    require_support(account)
    return _reviews_page(request, uow.session, account)


@router.post("/support/production-reviews/{application_id}")
def settle_review(
    request: Request, application_id: str, form: Form, uow: UowDep, account: PageAccount
) -> Response:
    """``POST /v1/support/production-applications/{id}/approve`` or ``/reject``, as the
    button pressed says, with the reason the owners will read."""
    require_support(account)
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        raise NotFound("No such decision.")
    try:
        body = parse(Decision, form)
        production.settle_manual_review(
            uow.session, account, application_id, approve=decision == "approve", reason=body.reason
        )
        uow.commit()
    except (DomainError, Invalid) as refused:
        status, shown = _refused(uow, refused)
        values = {"reason": form.get("reason", "")}
        return _reviews_page(
            request, uow.session, account, status, failed_id=application_id, values=values, **shown
        )
    done = "approved" if decision == "approve" else "rejected"
    return redirect(f"/support/production-reviews?done={done}")


# --- emails -----------------------------------------------------------------------------------


def _emails_page(
    request: Request,
    session: Session,
    agent: Account,
    status: EmailStatus,
    answer: int = 200,
    **context: Any,
) -> Response:
    emails = email_log.emails_for_support(session, agent, status=status, limit=100)
    counts = {s: email_log.count_emails(session, agent, s) for s in EMAIL_QUEUES}
    return render(
        request,
        "support/emails.html",
        answer,
        title="Failed and dead emails",
        chosen=status,
        counts=counts,
        emails=emails,
        link_templates=email_log.LINK_TEMPLATES,
        **context,
    )


def _email_queue(status: str) -> EmailStatus:
    if status not in EMAIL_QUEUES:
        raise NotFound("No such email queue.")
    return EmailStatus(status)


@router.get("/support/emails")
def emails(request: Request, uow: UowDep, account: PageAccount, status: str = "dead") -> Response:
    """Failed (refused for good) or dead (out of retries) emails, newest first."""
    require_support(account)
    return _emails_page(request, uow.session, account, _email_queue(status))


@router.post("/support/emails/{email_id}/resend")
def resend_email(
    request: Request, email_id: str, form: Form, uow: UowDep, account: PageAccount
) -> Response:
    """``POST /v1/support/emails/{id}/resend``: queued again, a new budget of attempts."""
    require_support(account)
    queue = _email_queue(form.get("status", "dead"))
    try:
        email_log.resend_email(uow.session, account, email_id)
        uow.commit()
    except DomainError as refused:
        status, shown = _refused(uow, refused)
        return _emails_page(request, uow.session, account, queue, status, **shown)
    return redirect(f"/support/emails?status={queue}&resent={email_id}")


# --- invoice runs -----------------------------------------------------------------------------


@router.get("/support/invoice-runs")
def invoice_runs(request: Request, uow: UowDep, account: PageAccount) -> Response:
    """``GET /v1/support/invoice-runs``: the latest runs, newest first, and the next one."""
    runs = billing.invoice_runs(uow.session, account, limit=100)
    period, due = billing.next_run(utcnow())
    return render(
        request,
        "support/invoice_runs.html",
        title="Invoice runs",
        runs=runs,
        next_period=str(period),
        next_due=due,
        money=billing.format_money,
    )
