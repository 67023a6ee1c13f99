"""Writing jobs into the outbox, inside the caller's transaction (docs/product.md "Reliability")."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.ids import new_id
from domain.models import Job, JobStatus

# The outbox's three notes in ``Session.info``, read and written only through the functions below:
#: the (id, name) of the jobs written in this transaction, for the unit of work to hand to the
#: broker as soon as it has committed;
_TO_DISPATCH = "teamkeys.new_jobs"
#: how long jobs written in this transaction are presumed on their way through the broker;
_DISPATCH_LEASE = "teamkeys.dispatch_lease"
#: the id of the request (or of the request behind the job) this transaction serves, which the
#: jobs it writes carry into their log lines.
_REQUEST_ID = "teamkeys.request_id"


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
    _to_dispatch(session).append((job.id, job.name))
    return job


def pending_job(session: Session, name: JobName, **ids: str) -> Job | None:
    """A job of ``name`` with these arguments that has not ended yet (waiting, handed over,
    running or retrying), if there is one."""
    query = select(Job).where(Job.name == name, Job.status == JobStatus.PENDING)
    for key, value in ids.items():
        query = query.where(Job.args[key].as_string() == value)
    return session.scalar(query.limit(1))


def enqueue_jobs(session: Session, name: JobName, args: Sequence[dict[str, str]]) -> None:
    """Many jobs of one kind in one multi-row insert (a month's invoice emails, say)."""
    rows = [_job_row(session, name, ids) for ids in args]
    if rows:
        session.connection().execute(insert(Job), rows)
        _to_dispatch(session).extend((row["id"], row["name"]) for row in rows)


def insert_jobs_sql(source: str, **args: str) -> str:
    """For a PostgreSQL statement that writes its jobs itself, in the same statement as what
    causes them (a data-modifying CTE: no round trip, no row through Python): an ``INSERT``
    of one pending job per row of ``source``, whose arguments are ``args`` (name -> column of
    ``source``), ``RETURNING id``. Bind :func:`insert_jobs_params`; then tell the unit of work
    with :func:`jobs_written`."""
    if not all(word.isidentifier() for word in (source, *args, *args.values())):
        raise ValueError("insert_jobs_sql takes names from code, never from input")
    arguments = ", ".join(f"'{name}', src.{column}" for name, column in args.items())
    return f"""INSERT INTO jobs (id, name, args, status, attempts, available_at, created_at,
                      lease_until, request_id)
    SELECT 'job_' || replace(CAST(gen_random_uuid() AS text), '-', ''), :job_name,
           json_build_object({arguments}), 'pending', 0, :job_now, :job_now, :job_lease_until,
           :job_request_id
    FROM {source} src
    RETURNING id"""  # noqa: S608 - identifiers checked above, values bound


def insert_jobs_params(session: Session, name: JobName, now: datetime) -> dict[str, Any]:
    """What :func:`insert_jobs_sql` binds: the same values :func:`enqueue_job` writes."""
    return {
        "job_name": str(name),
        "job_now": now,
        "job_lease_until": _lease_until(session, now),
        "job_request_id": session.info.get(_REQUEST_ID),
    }


def jobs_written(session: Session, name: JobName, ids: Sequence[str]) -> None:
    """Jobs a statement of :func:`insert_jobs_sql` wrote, to be handed over after commit."""
    _to_dispatch(session).extend((job_id, str(name)) for job_id in ids)


def set_dispatch_lease(session: Session, lease: timedelta | None) -> None:
    """How this session's new jobs reach the broker: handed over right after commit and
    presumed on their way for ``lease``; or, with ``None`` (a command-line process with no
    worker of its own), left to the relay at once. If the hand-over fails (broker down), they
    are released for the relay's next pass."""
    session.info[_DISPATCH_LEASE] = lease


def set_request_id(session: Session, request_id: str | None) -> None:
    """The request this session's transaction serves: every job it writes records its id, and
    the job's log lines show it when it runs."""
    session.info[_REQUEST_ID] = request_id


def jobs_to_dispatch(session: Session) -> list[tuple[str, str]]:
    """(id, name) of the jobs written in this session's transaction so far."""
    return list(session.info.get(_TO_DISPATCH, []))


def take_jobs_to_dispatch(session: Session) -> list[tuple[str, str]]:
    """:func:`jobs_to_dispatch`, forgotten: once committed they are the broker's to take, and
    after a rollback they never existed."""
    jobs: list[tuple[str, str]] = session.info.pop(_TO_DISPATCH, [])
    return jobs


def _to_dispatch(session: Session) -> list[tuple[str, str]]:
    jobs: list[tuple[str, str]] = session.info.setdefault(_TO_DISPATCH, [])
    return jobs


def _lease_until(session: Session, now: datetime) -> datetime | None:
    lease: timedelta | None = session.info.get(_DISPATCH_LEASE)
    return now + lease if lease is not None else None


def _job_row(session: Session, name: JobName, ids: dict[str, str]) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id("job"),
        "name": str(name),
        "args": dict(ids),
        "status": "pending",
        "attempts": 0,
        "available_at": now,
        "created_at": now,
        "lease_until": _lease_until(session, now),
        "request_id": session.info.get(_REQUEST_ID),
    }
