"""Writing jobs into the outbox, inside the caller's transaction (DESIGN: reliability contract)."""

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

#: Set in ``Session.info`` by a unit of work that hands its jobs to a broker after commit.
#: Without it (a command-line process with no worker of its own) jobs are left for the relay.
DISPATCHING_KEY = "teamkeys.dispatching"

#: How long a freshly written job is presumed to be on its way through the broker. If the
#: hand-over right after commit fails (broker down), the relay picks it up once this passes.
FIRST_DISPATCH_LEASE = timedelta(seconds=60)


class JobName(enum.StrEnum):
    """Every kind of job; each has one Dramatiq actor (``workers.registry``)."""

    SEND_EMAIL = "send_email"
    SEND_INVITATION = "send_invitation"
    GENERATE_API_KEY = "generate_api_key"
    REVIEW_PRODUCTION = "review_production"
    GENERATE_INVOICE = "generate_invoice"


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
    dispatching = session.info.get(DISPATCHING_KEY, False)
    return {
        "id": new_id("job"),
        "name": str(name),
        "args": dict(ids),
        "status": "pending",
        "attempts": 0,
        "available_at": now,
        "created_at": now,
        "lease_until": now + FIRST_DISPATCH_LEASE if dispatching else None,
    }
