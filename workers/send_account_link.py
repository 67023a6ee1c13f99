"""The account-link job: re-check the link, make its token, email it (verification, reset)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.account_links import link_email_cause, prepare_link_email, record_link_delivery
from domain.models import Email, EmailStatus, Job
from workers.runner import JobRun, WorkerContext
from workers.send_email import Chosen, deliver, mark_email_dead


def send_account_link(ctx: WorkerContext, run: JobRun, link_id: str) -> None:
    """Idempotent like the invitation job: the link's one email goes at most once, and a link
    replaced, used or expired meanwhile is not sent at all."""

    def the_link_email(session: Session) -> Chosen | None:
        to_send = prepare_link_email(session, link_id, ctx.link_secret)
        if to_send is None:
            return None
        url = f"{ctx.settings.public_url.rstrip('/')}/{to_send.kind.path}/{to_send.token}"
        return Chosen(to_send.email, {"link_url": url})

    def on_the_link(session: Session, status: EmailStatus) -> None:
        record_link_delivery(session, link_id, status)

    deliver(ctx, run, the_link_email, on_the_link)


def send_account_link_died(session: Session, job: Job, reason: str) -> None:
    """Every retry failed: the email is ``dead`` where support sees it, the link ``failed``."""
    link_id = str(job.args.get("link_id"))
    email_id = session.scalar(select(Email.id).where(Email.cause == link_email_cause(link_id)))
    if email_id is not None:
        mark_email_dead(session, email_id, reason)
    record_link_delivery(session, link_id, EmailStatus.DEAD)
