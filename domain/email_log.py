"""The email log support agents read: every email asked for, its status and why it failed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.models import Account, Email, EmailStatus
from domain.teams import require_support


def emails_for_support(
    session: Session, agent: Account, *, status: EmailStatus | None, limit: int
) -> list[Email]:
    """Emails newest first, optionally of one status: ``dead`` ones ran out of retries,
    ``failed`` ones the mail server refused for good; ``last_error`` says why."""
    require_support(agent)
    query = select(Email).order_by(Email.created_at.desc()).limit(limit)
    if status is not None:
        query = query.where(Email.status == status)
    return list(session.scalars(query))
