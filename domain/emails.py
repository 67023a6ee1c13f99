"""Asking for an email: one row per cause, and a job that sends it after commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, make_transient_to_detached

from domain.clock import utcnow
from domain.ids import new_id
from domain.jobs import JobName, enqueue_job
from domain.models import Email, EmailStatus, insert_unless_present


class Addressee(Protocol):
    """Whoever an email goes to: an account, or an address that has none yet."""

    @property
    def email(self) -> str: ...

    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Address:
    email: str
    name: str


def request_email(
    session: Session,
    *,
    template: str,
    cause: str,
    to: Addressee,
    context: dict[str, Any],
    reason: str,
    team_id: str | None = None,
    send_by_job: bool = True,
) -> Email:
    """Queue ``template`` for ``to`` because of ``cause``; asking twice for one cause is a no-op.

    ``reason`` is the footer's sentence telling the reader why they got it. ``context`` must
    hold no secret: it is stored (invariant 3). With ``send_by_job=False`` no ``send_email``
    job is written: the caller is a job that sends it itself, adding a secret (a link's
    token) at render time.
    """
    existing = session.scalar(select(Email).where(Email.cause == cause))
    if existing is not None:
        return existing
    row: dict[str, Any] = {
        "id": new_id("eml"),
        "template": template,
        "cause": cause,
        "team_id": team_id,
        "to_address": to.email,
        "to_name": to.name,
        "context": {**context, "reason": reason, "recipient_name": to.name},
        "status": EmailStatus.QUEUED,
        "attempts": 0,
        "created_at": utcnow(),
    }
    inserted = session.execute(
        insert_unless_present(session, Email, unique=["cause"]).values(row).returning(Email.id)
    ).scalar_one_or_none()
    if inserted is None:
        # Another transaction asked for the same cause at the same moment: theirs stands.
        found = session.scalar(select(Email).where(Email.cause == cause))
        assert found is not None
        return found
    # The row is in; an object of it joins the session as its copy, with no second INSERT.
    email = Email(**row, last_error=None, sent_at=None)
    make_transient_to_detached(email)
    session.add(email)
    if send_by_job:
        enqueue_job(session, JobName.SEND_EMAIL, email_id=email.id)
    return email
