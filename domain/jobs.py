"""Writing jobs into the outbox, inside the caller's transaction (DESIGN: reliability contract)."""

from __future__ import annotations

import enum
from datetime import timedelta

from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.ids import new_id
from domain.models import Job

#: Key in ``Session.info`` under which (id, name) of the jobs written in this transaction gather,
#: so the unit of work can hand them to the broker as soon as it has committed.
NEW_JOBS_KEY = "teamkeys.new_jobs"

#: How long a freshly written job is presumed to be on its way through the broker. If the
#: hand-over right after commit fails (broker down), the relay picks it up once this passes.
FIRST_DISPATCH_LEASE = timedelta(seconds=60)


class JobName(enum.StrEnum):
    """Every kind of job; each has one Dramatiq actor (``workers.registry``)."""

    SEND_EMAIL = "send_email"
    SEND_INVITATION = "send_invitation"
    GENERATE_API_KEY = "generate_api_key"
    SEND_MIGRATION_CONSENT = "send_migration_consent"
    MIGRATE_ACCOUNT = "migrate_account"


def enqueue_job(session: Session, name: JobName, **ids: str) -> Job:
    """Record a job to run once this transaction commits; ``ids`` are its only arguments."""
    now = utcnow()
    job = Job(
        id=new_id("job"),
        name=str(name),
        args=dict(ids),
        available_at=now,
        created_at=now,
        lease_until=now + FIRST_DISPATCH_LEASE,
    )
    session.add(job)
    session.info.setdefault(NEW_JOBS_KEY, []).append((job.id, job.name))
    return job
