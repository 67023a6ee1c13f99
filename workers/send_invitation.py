"""The invitation job: re-check, send this round's link, record delivery on the invitation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.invitations import (
    fail_invitation,
    invitation_email_cause,
    prepare_invitation_email,
    record_delivery,
)
from domain.models import Email, EmailStatus, Job
from workers.runner import JobRun, WorkerContext
from workers.send_email import Chosen, deliver, mark_email_dead


def accept_url(ctx: WorkerContext, token: str) -> str:
    """Where the front end shows the invitation and lets the invitee accept it."""
    return f"{ctx.settings.public_url.rstrip('/')}/invitations/{token}"


def send_invitation(ctx: WorkerContext, run: JobRun, invitation_id: str, rotation: str) -> None:
    """Idempotent: a retry, or a second delivery of the message, sends the round's email at
    most once (its cause is the round) and, if it went already, only records that."""
    round_ = int(rotation)

    def this_round(session: Session) -> Chosen | None:
        to_send = prepare_invitation_email(session, invitation_id, round_, ctx.link_secret)
        if to_send is None:
            return None
        return Chosen(to_send.email, {"accept_url": accept_url(ctx, to_send.token)})

    def on_the_invitation(session: Session, _status: EmailStatus) -> None:
        record_delivery(session, invitation_id, round_)

    deliver(ctx, run, this_round, on_the_invitation)


def send_invitation_died(session: Session, job: Job, reason: str) -> None:
    """Every retry failed: that round's invitation is ``failed`` and its email ``dead``."""
    invitation_id, rotation = str(job.args["invitation_id"]), int(job.args["rotation"])
    email_id = session.scalar(
        select(Email.id).where(Email.cause == invitation_email_cause(invitation_id, rotation))
    )
    if email_id is not None:
        mark_email_dead(session, email_id, reason)
    fail_invitation(
        session, invitation_id, rotation, f"The invitation email could not be delivered: {reason}"
    )
