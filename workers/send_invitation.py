"""The invitation job: re-check, make this round's link, send it, record delivery."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.invitations import fail_invitation, mark_invitation_sent, prepare_invitation_email
from domain.models import Email, EmailStatus, Invitation, Job
from workers.runner import WorkerContext
from workers.send_email import deliver, mark_email_dead


def accept_url(ctx: WorkerContext, token: str) -> str:
    """Where the front end shows the invitation and lets the invitee accept it."""
    return f"{ctx.settings.public_url.rstrip('/')}/invitations/{token}"


def send_invitation(ctx: WorkerContext, invitation_id: str) -> None:
    with ctx.db.unit_of_work() as uow:
        to_send = prepare_invitation_email(uow.session, invitation_id)
        uow.commit()
    if to_send is None:
        return
    status = deliver(
        ctx, to_send.email_id, secret_context={"accept_url": accept_url(ctx, to_send.token)}
    )
    with ctx.db.unit_of_work() as uow:
        if status is EmailStatus.FAILED:
            email = uow.session.get(Email, to_send.email_id)
            refusal = email.last_error if email else "refused"
            fail_invitation(
                uow.session,
                invitation_id,
                f"The mail server refused the address: {refusal}",
                rotation=to_send.rotation,
            )
        else:
            mark_invitation_sent(uow.session, invitation_id, to_send.rotation)
        uow.commit()


def send_invitation_died(session: Session, job: Job, reason: str) -> None:
    """Every retry failed: the invitation is ``failed`` and its email ``dead``, with the reason."""
    invitation_id = str(job.args.get("invitation_id"))
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        return
    email_id = session.scalar(
        select(Email.id).where(Email.cause == f"invitation:{invitation.id}:{invitation.rotation}")
    )
    if email_id is not None:
        mark_email_dead(session, email_id, reason)
    fail_invitation(session, invitation_id, f"The email could not be delivered: {reason}")
