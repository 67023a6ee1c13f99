"""Re-sending an email from the support console: only a failed or dead one, and never while
its last job is still under way (two jobs could send it twice)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import email_log
from domain.errors import Conflict
from domain.jobs import JobName, enqueue_job
from domain.models import Email, EmailStatus, Job, JobStatus
from tests.rules.conftest import People, refused


def failed_email(session: Session, *, job_done: bool) -> Email:
    email = Email(
        template="role_changed",
        cause="test:resend",
        to_address="someone@example.com",
        to_name="Someone",
        context={},
        status=EmailStatus.FAILED,
        attempts=3,
    )
    session.add(email)
    session.flush()
    job = enqueue_job(session, JobName.SEND_EMAIL, email_id=email.id)
    if job_done:
        job.status = JobStatus.DONE
    session.flush()
    return email


def test_a_failed_email_whose_job_has_ended_is_queued_again_with_a_new_job(
    session: Session, people: People
) -> None:
    agent = people.agent("Sam")
    email = failed_email(session, job_done=True)
    email_log.resend_email(session, agent, email.id)
    assert email.status == EmailStatus.QUEUED
    pending = session.scalars(select(Job).where(Job.status == JobStatus.PENDING)).all()
    assert [job.args for job in pending] == [{"email_id": email.id}]


def test_an_email_whose_last_job_is_still_under_way_is_not_sent_again(
    session: Session, people: People
) -> None:
    agent = people.agent("Sam")
    email = failed_email(session, job_done=False)
    with refused(session, Conflict, "email_not_resendable"):
        email_log.resend_email(session, agent, email.id)
