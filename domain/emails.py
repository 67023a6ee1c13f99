"""Asking for an email: one row per cause, and a job that sends it after commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.models import Account, Email, EmailStatus


def request_email(
    session: Session,
    *,
    template: str,
    cause: str,
    to: Account,
    context: dict[str, Any],
    reason: str,
    team_id: str | None = None,
) -> Email:
    """Queue ``template`` for ``to`` because of ``cause``; asking twice for one cause is a no-op.

    ``reason`` is the footer's sentence telling the reader why they got it. ``context`` must
    hold no secret: it is stored (invariant 3).
    """
    existing = session.scalar(select(Email).where(Email.cause == cause))
    if existing is not None:
        return existing
    email = Email(
        id=new_id("eml"),
        template=template,
        cause=cause,
        team_id=team_id,
        to_address=to.email,
        to_name=to.name,
        context={**context, "reason": reason, "recipient_name": to.name},
        status=EmailStatus.QUEUED,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(email)
    except IntegrityError:
        # Another transaction asked for the same cause at the same moment: theirs stands.
        found = session.scalar(select(Email).where(Email.cause == cause))
        assert found is not None
        return found
    enqueue_job(session, JobName.SEND_EMAIL, email_id=email.id)
    return email
