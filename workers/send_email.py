"""The email pipeline's last step: render a queued email, send it once, record what happened."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import Email, EmailStatus, Job
from workers.mail.errors import PermanentMailError, TransientMailError
from workers.mail.message import build_message, message_id_for
from workers.runner import WorkerContext

log = logging.getLogger("teamkeys.email")


def deliver(
    ctx: WorkerContext,
    email_id: str,
    *,
    secret_context: Mapping[str, Any] | None = None,
) -> EmailStatus | None:
    """Send one queued email and return its new status, or ``None`` if it was not queued (sent
    already: a cause never sends twice). A 5xx answer marks it ``failed`` for good; a transient
    error is recorded and raised, so the runner retries with backoff.

    ``secret_context`` (a link's token) is rendered into the email but never stored.
    """
    settings = ctx.settings
    with ctx.db.unit_of_work() as uow:
        email = uow.session.get(Email, email_id)
        if email is None or email.status != EmailStatus.QUEUED:
            return None
        template = email.template
        rendered = ctx.renderer.render(
            template,
            {**email.context, **(secret_context or {}), "public_url": settings.public_url},
        )
        message = build_message(
            rendered,
            sender_name=settings.mail_from_name,
            sender_address=settings.mail_from_address,
            to_name=email.to_name,
            to_address=email.to_address,
            message_id=message_id_for(email.cause, settings.mail_message_id_domain),
            headers={"X-Teamkeys-Email": template},
        )
    try:
        ctx.transport.send(message)
    except PermanentMailError as exc:
        _record(ctx, email_id, EmailStatus.FAILED, error=str(exc))
        log.error("email %s (%s) refused for good: %s", email_id, template, exc)
        return EmailStatus.FAILED
    except TransientMailError as exc:
        _record(ctx, email_id, EmailStatus.QUEUED, error=str(exc))
        raise
    _record(ctx, email_id, EmailStatus.SENT)
    log.info("email %s (%s) sent, Message-ID %s", email_id, template, message["Message-ID"])
    return EmailStatus.SENT


def send_email(ctx: WorkerContext, email_id: str) -> None:
    """The ``send_email`` job: an email whose content is all in its row."""
    deliver(ctx, email_id)


def _record(
    ctx: WorkerContext, email_id: str, status: EmailStatus, error: str | None = None
) -> None:
    with ctx.db.unit_of_work() as uow:
        email = uow.session.get(Email, email_id, with_for_update=True)
        assert email is not None
        email.attempts += 1
        email.status = status
        email.last_error = error
        if status is EmailStatus.SENT:
            email.sent_at = utcnow()
        uow.commit()


def mark_email_dead(session: Session, email_id: str, reason: str) -> None:
    """After the last retry, the email shows as ``dead`` with the reason, where support looks."""
    email = session.get(Email, email_id, with_for_update=True)
    if email is not None and email.status == EmailStatus.QUEUED:
        email.status = EmailStatus.DEAD
        email.last_error = reason


def send_email_died(session: Session, job: Job, reason: str) -> None:
    mark_email_dead(session, str(job.args.get("email_id")), reason)
