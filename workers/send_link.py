"""The job that emails a single-use link (an invitation, a migration consent, a verification
or reset link): re-check, make the link, send it once, record the outcome on its flow.

Idempotent: a retry, or a second delivery of the message, sends the link's email at most once
(its cause says which) and, if it went already, only records that. Each flow says what to
re-check and record (:class:`domain.links.LinkSending`); this only runs it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.jobs import JobName
from domain.links import Key, LinkEmail, LinkSending
from domain.models import Email, EmailStatus, Job
from workers.runner import JobRun, JobSpec, WorkerContext
from workers.send_email import Chosen, deliver, mark_email_dead


def link_job(name: JobName, queue: str, sending: LinkSending[Key]) -> JobSpec:
    """The job ``name`` on ``queue``, emailing the link ``sending`` describes."""

    def send_link(ctx: WorkerContext, run: JobRun, **args: str) -> None:
        key = sending.key(args)

        def the_link_email(session: Session) -> Chosen | None:
            to_send = sending.prepare(session, key, ctx.link_secret)
            if to_send is None:
                return None
            return Chosen(to_send.email, {to_send.kind.url_key: link_url(ctx, to_send)})

        def on_its_flow(session: Session, status: EmailStatus) -> None:
            sending.record(session, key, status)

        deliver(ctx, run, the_link_email, on_its_flow)

    def link_died(session: Session, job: Job, reason: str) -> None:
        """Every retry failed: the email is ``dead`` where support sees it, and the flow
        records that the link never went out."""
        key = sending.key(job.args)
        email_id = session.scalar(select(Email.id).where(Email.cause == sending.email_cause(key)))
        if email_id is not None:
            mark_email_dead(session, email_id, reason)
        sending.died(session, key, reason)

    return JobSpec(name, queue, send_link, on_dead=link_died)


def link_url(ctx: WorkerContext, to_send: LinkEmail) -> str:
    """Where the web console opens the link."""
    return f"{ctx.settings.public_url}/{to_send.kind.path}/{to_send.token}"
