"""The consent job: re-check the ticket, make the link, send it to the account holder."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.migration_tickets import (
    consent_email_cause,
    fail_consent,
    mark_consent_sent,
    prepare_consent_email,
)
from domain.models import Email, EmailStatus, Job
from workers.runner import JobRun, WorkerContext
from workers.send_email import Chosen, deliver, mark_email_dead


def consent_url(ctx: WorkerContext, token: str) -> str:
    """Where the front end shows the request and lets the account holder accept or decline."""
    return f"{ctx.settings.public_url.rstrip('/')}/migration-consents/{token}"


def send_migration_consent(ctx: WorkerContext, run: JobRun, ticket_id: str) -> None:
    """Idempotent like the invitation job: the ticket's one consent email goes at most once,
    and its outcome is recorded on the ticket (sent, or failed with the server's refusal)."""

    def the_consent_email(session: Session) -> Chosen | None:
        to_send = prepare_consent_email(session, ticket_id, ctx.link_secret)
        if to_send is None:
            return None
        return Chosen(to_send.email, {"consent_url": consent_url(ctx, to_send.token)})

    def on_the_ticket(session: Session, status: EmailStatus) -> None:
        if status is EmailStatus.FAILED:
            refusal = session.scalar(
                select(Email.last_error).where(Email.cause == consent_email_cause(ticket_id))
            )
            fail_consent(
                session, ticket_id, f"The mail server refused the address: {refusal or 'refused'}"
            )
        else:
            mark_consent_sent(session, ticket_id)

    deliver(ctx, run, the_consent_email, on_the_ticket)


def send_migration_consent_died(session: Session, job: Job, reason: str) -> None:
    """Every retry failed: the ticket is ``failed`` and its email ``dead``, with the reason."""
    ticket_id = str(job.args.get("ticket_id"))
    email_id = session.scalar(select(Email.id).where(Email.cause == consent_email_cause(ticket_id)))
    if email_id is not None:
        mark_email_dead(session, email_id, reason)
    fail_consent(session, ticket_id, f"The consent email could not be delivered: {reason}")
