"""Writing jobs into the outbox, inside the caller's transaction (docs/product.md "Reliability")."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.ids import new_id
from domain.models import Job

#: Key in ``Session.info`` under which (id, name) of the jobs written in this transaction gather,
#: so the unit of work can hand them to the broker as soon as it has committed.
NEW_JOBS_KEY = "teamkeys.new_jobs"

#: In ``Session.info``: how long jobs written in this transaction are presumed on their way
#: through the broker, which the unit of work hands them to right after commit. ``None`` (a
#: command-line process with no worker of its own): they are left for the relay at once.
#: If the hand-over fails (broker down), they are released for the relay's next pass.
DISPATCHING_KEY = "teamkeys.dispatch_lease"


class JobName(enum.StrEnum):
    """Every kind of job; each has one Dramatiq actor (``workers.registry``)."""

    SEND_EMAIL = "send_email"
    SEND_INVITATION = "send_invitation"
    SEND_ACCOUNT_LINK = "send_account_link"
    GENERATE_API_KEY = "generate_api_key"
    REVIEW_PRODUCTION = "review_production"
    GENERATE_INVOICE = "generate_invoice"
    NOTIFY_INVOICE_OWNERS = "notify_invoice_owners"
    SEND_MIGRATION_CONSENT = "send_migration_consent"
    MIGRATE_ACCOUNT = "migrate_account"


def enqueue_job(session: Session, name: JobName, **ids: str) -> Job:
    """Record a job to run once this transaction commits; ``ids`` are its only arguments."""
    job = Job(**_job_row(session, name, ids))
    session.add(job)
    session.info.setdefault(NEW_JOBS_KEY, []).append((job.id, job.name))
    return job


def enqueue_jobs(session: Session, name: JobName, args: Sequence[dict[str, str]]) -> None:
    """Many jobs of one kind in one multi-row insert (a month's invoice emails, say)."""
    rows = [_job_row(session, name, ids) for ids in args]
    if rows:
        session.connection().execute(insert(Job), rows)
        session.info.setdefault(NEW_JOBS_KEY, []).extend((row["id"], row["name"]) for row in rows)


def _job_row(session: Session, name: JobName, ids: dict[str, str]) -> dict[str, Any]:
    now = utcnow()
    lease: timedelta | None = session.info.get(DISPATCHING_KEY)
    return {
        "id": new_id("job"),
        "name": str(name),
        "args": dict(ids),
        "status": "pending",
        "attempts": 0,
        "available_at": now,
        "created_at": now,
        "lease_until": now + lease if lease is not None else None,
    }
