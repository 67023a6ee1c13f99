"""The email pipeline's last step: render a queued email, send it once, record what happened.

One email costs two transactions around the SMTP conversation, never one held open across it:
the first chooses the email (a job re-checking its cause may write it then) and renders it; the
second records the server's answer on the email, through the caller's ``record`` on whatever
caused it (an invitation, a migration ticket), and ends the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.emails import Template
from domain.models import Email, EmailStatus, Invoice, Job, Team
from infra.invoice_pdf import invoice_filename, seller_invoice_pdf
from infra.mail.errors import PermanentMailError, TransientMailError
from infra.mail.message import Attachment, build_message, message_id_for
from workers.runner import JobRun, WorkerContext

log = logging.getLogger("teamkeys.email")


@dataclass(frozen=True)
class Chosen:
    """The email a job is to send, and what to render into it that is never stored (a link's
    token, invariant 3)."""

    email: Email
    secret_context: Mapping[str, Any] = field(default_factory=dict)


#: Picks the email in the first transaction, or ``None``: nothing to send.
Choose = Callable[[Session], Chosen | None]
#: Carries the email's status over to its cause, in the transaction that records it.
Record = Callable[[Session, EmailStatus], None]


def deliver(
    ctx: WorkerContext, run: JobRun, choose: Choose, record: Record | None = None
) -> EmailStatus | None:
    """Send the email ``choose`` picks, at most once, and return its new status; ``None`` if
    nothing was sent now (nothing chosen, or it left the queue earlier: a cause never sends
    twice). The job ends (``run``) in the transaction that records the outcome.

    ``record`` carries the email's status over to its cause: after a send that got an answer,
    or at once if the email had left the queue already. A 5xx answer marks the email
    ``failed`` for good; a transient error is recorded on the email and raised, so the runner
    retries the job with backoff.
    """
    with ctx.db.unit_of_work() as uow:
        chosen = choose(uow.session)
        if chosen is None:
            run.finish(uow.session)
            uow.commit()
            return None
        if chosen.email.status != EmailStatus.QUEUED:
            # Sent (or refused) by an earlier attempt that died before recording it on its cause.
            if record is not None:
                record(uow.session, EmailStatus(chosen.email.status))
            run.finish(uow.session)
            uow.commit()
            return None
        email_id, template = chosen.email.id, chosen.email.template
        try:
            message = _render(ctx, chosen, _attachments(uow.session, ctx, chosen.email))
        except Exception:
            uow.commit()  # what choose wrote stands: the email is on record, to be marked dead
            raise
        uow.commit()
    error: str | None = None
    try:
        ctx.transport.send(message)
    except TransientMailError as exc:
        _record_attempt_alone(ctx, email_id, EmailStatus.QUEUED, str(exc))
        raise
    except PermanentMailError as exc:
        status, error = EmailStatus.FAILED, str(exc)
        log.error("email %s (%s) refused for good: %s", email_id, template, exc)
    else:
        status = EmailStatus.SENT
        log.info("email %s (%s) sent, Message-ID %s", email_id, template, message["Message-ID"])
    try:
        with ctx.db.unit_of_work() as uow:
            _record_attempt(uow.session, email_id, status, error)
            if record is not None:
                record(uow.session, status)
            run.finish(uow.session)
            uow.commit()
    except Exception:
        # Whatever failed with the cause, the server's answer must stand, or a retry would
        # send the email again; the retry then only records it on the cause.
        _record_attempt_alone(ctx, email_id, status, error)
        raise
    return status


def send_email(ctx: WorkerContext, run: JobRun, email_id: str) -> None:
    """The ``send_email`` job: an email whose content is all in its row."""

    def the_email(session: Session) -> Chosen | None:
        email = session.get(Email, email_id)
        return Chosen(email) if email is not None else None

    deliver(ctx, run, the_email)


def _invoice_pdf(session: Session, ctx: WorkerContext, email: Email) -> list[Attachment]:
    """``invoice_ready`` carries the invoice it announces, as the download would give it."""
    invoice = session.get(Invoice, email.context["invoice_id"])
    team = session.get(Team, invoice.team_id) if invoice is not None else None
    if invoice is None or team is None:
        return []  # a team that is gone took its invoices with it: the email says enough
    pdf = seller_invoice_pdf(invoice, team, ctx.settings)
    return [Attachment(invoice_filename(invoice), pdf)]


#: The emails that carry files, and how to make them (at send time, from the database).
ATTACHMENTS: dict[str, Callable[[Session, WorkerContext, Email], list[Attachment]]] = {
    Template.INVOICE_READY: _invoice_pdf,
}


def _attachments(session: Session, ctx: WorkerContext, email: Email) -> list[Attachment]:
    """The email's files; if one cannot be made, the email goes without it (its link leads to
    the same document), rather than not at all."""
    make = ATTACHMENTS.get(email.template)
    if make is None:
        return []
    try:
        return make(session, ctx, email)
    except Exception:
        log.exception(
            "email %s (%s): its attachment failed; sent without", email.id, email.template
        )
        return []


def _render(ctx: WorkerContext, chosen: Chosen, attachments: list[Attachment]) -> EmailMessage:
    settings, email = ctx.settings, chosen.email
    rendered = ctx.renderer.render(
        email.template,
        {**email.context, **chosen.secret_context, "public_url": settings.public_url},
    )
    return build_message(
        rendered,
        sender_name=settings.mail_from_name,
        sender_address=settings.mail_from_address,
        to_name=email.to_name,
        to_address=email.to_address,
        message_id=message_id_for(email.cause, settings.mail_message_id_domain),
        headers={"X-Teamkeys-Email": email.template},
        attachments=attachments,
    )


def _record_attempt(
    session: Session, email_id: str, status: EmailStatus, error: str | None
) -> None:
    """One attempt at ``email_id`` and its outcome, in one UPDATE, if it is still queued (a
    stale run, whose lease ran out while another took over, changes nothing)."""
    session.execute(
        update(Email)
        .where(Email.id == email_id, Email.status == EmailStatus.QUEUED)
        .values(
            attempts=Email.attempts + 1,
            status=status,
            last_error=error,
            **({"sent_at": utcnow()} if status is EmailStatus.SENT else {}),
        )
    )


def _record_attempt_alone(
    ctx: WorkerContext, email_id: str, status: EmailStatus, error: str | None
) -> None:
    with ctx.db.unit_of_work() as uow:
        _record_attempt(uow.session, email_id, status, error)
        uow.commit()


def mark_email_dead(session: Session, email_id: str, reason: str) -> None:
    """After the last retry, the email shows as ``dead`` with the reason, where support looks."""
    email = session.get(Email, email_id, with_for_update=True)
    if email is not None and email.status == EmailStatus.QUEUED:
        email.status = EmailStatus.DEAD
        email.last_error = reason


def send_email_died(session: Session, job: Job, reason: str) -> None:
    mark_email_dead(session, str(job.args.get("email_id")), reason)
