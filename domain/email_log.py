"""The email log support agents read: every email asked for, its status and why it failed;
and the one thing they may do to it: send a failed or dead email again."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.audit import record_event
from domain.emails import Template
from domain.errors import Conflict, NotFound
from domain.jobs import JobName, enqueue_job, pending_job
from domain.models import Account, Email, EmailStatus
from domain.teams import require_support

#: Emails carrying a single-use link: the link's token is made when its own job sends it and
#: is never stored (invariant 3), so a bare re-send would carry no working link. Their flows
#: have their own way to send a new link (resend an invitation, ask for a new reset, open a
#: new ticket).
LINK_TEMPLATES = frozenset(
    {
        Template.EMAIL_VERIFICATION,
        Template.PASSWORD_RESET,
        Template.INVITATION,
        Template.MIGRATION_CONSENT,
    }
)
RESENDABLE = (EmailStatus.FAILED, EmailStatus.DEAD)


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


def count_emails(session: Session, agent: Account, status: EmailStatus) -> int:
    """How many emails have ``status`` (the console's queue counts)."""
    require_support(agent)
    return int(session.scalar(select(func.count()).where(Email.status == status)) or 0)


def resend_email(session: Session, agent: Account, email_id: str) -> Email:
    """Send a failed or dead email again: it is queued once more, with a new ``send_email``
    job (so a new budget of attempts), under the same cause, so the same Message-ID. Its
    ``attempts`` keep counting every try, and ``last_error`` stays until the next answer."""
    require_support(agent)
    email = session.scalar(select(Email).where(Email.id == email_id).with_for_update())
    if email is None:
        raise NotFound("No such email.", code="no_such_email")
    if email.status not in RESENDABLE:
        raise Conflict(
            f"This email is {email.status}; only a failed or dead email can be sent again.",
            code="email_not_resendable",
        )
    if email.template in LINK_TEMPLATES:
        raise Conflict(
            "This email carries a single-use link, which is never stored; its own flow sends a "
            "new link (resend the invitation, ask for a new password reset or verification "
            "email, or open a new migration ticket).",
            code="email_not_resendable",
        )
    if pending_job(session, JobName.SEND_EMAIL, email_id=email.id) is not None:
        # Its last job has not ended (it may be recording its answer): a second one could
        # send the email twice.
        raise Conflict(
            "This email is still being sent; look again in a minute.",
            code="email_not_resendable",
        )
    previous = email.status
    email.status = EmailStatus.QUEUED
    enqueue_job(session, JobName.SEND_EMAIL, email_id=email.id)
    record_event(
        session,
        team_id=email.team_id,
        actor_id=agent.id,
        action="email.resent",
        target=email.id,
        details={"template": email.template, "was": str(previous), "attempts": email.attempts},
    )
    return email
