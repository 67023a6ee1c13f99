"""The scheduler lease: which one of the scheduler processes (one may run on every machine) is
the active one. The holder renews it every beat; another takes it only once it has expired
(its holder died) or been released (its holder stopped). Every change is one conditional
statement, so two processes can never both hold it, on PostgreSQL and on SQLite.

Like the jobs' leases, it is timed by the processes' clocks (keep them in sync with NTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import SchedulerLease, insert_unless_present

#: The one lease row's name.
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class LeaseState:
    """What :func:`hold_lease` found."""

    #: Whether the caller holds the lease now.
    held: bool
    #: Who holds it (the caller, another process, or ``None``: nobody, it was not there).
    holder: str | None
    #: When the caller just took it from another holder: that holder (its lease had expired
    #: or been released); ``None`` when the caller renewed it or it was free.
    previous: str | None = None


def hold_lease(
    session: Session,
    holder: str,
    *,
    lease: timedelta,
    now: datetime | None = None,
    name: str = SCHEDULER,
) -> LeaseState:
    """Take the lease, or renew it if ``holder`` has it: it then lasts ``lease`` from ``now``.
    Refused while another holder's lease runs. The caller commits."""
    now = now or utcnow()
    seen = session.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at).where(SchedulerLease.name == name)
    ).one_or_none()
    if seen is None:
        inserted = session.scalar(
            insert_unless_present(session, SchedulerLease, unique=["name"])
            .values(name=name, holder=holder, acquired_at=now, beat_at=now, expires_at=now + lease)
            .returning(SchedulerLease.name)
        )
        if inserted is not None:
            return LeaseState(held=True, holder=holder)
        return LeaseState(held=False, holder=current_holder(session, name))  # another won
    renewing = seen.holder == holder
    taken = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            # The rule itself, evaluated on the row as it is when the update runs (a
            # concurrent taker's update is waited for and re-read on PostgreSQL; SQLite runs
            # one writer at a time): mine already, or expired.
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
        )
        .values(
            holder=holder,
            beat_at=now,
            expires_at=now + lease,
            **({} if renewing else {"acquired_at": now}),
        )
        .execution_options(synchronize_session=False)
    )
    if _changed(taken):
        return LeaseState(held=True, holder=holder, previous=None if renewing else seen.holder)
    return LeaseState(held=False, holder=current_holder(session, name))


def release_lease(
    session: Session,
    holder: str,
    *,
    lease: timedelta,
    now: datetime | None = None,
    name: str = SCHEDULER,
) -> bool:
    """Give the lease up at once if ``holder`` has it, so a waiting process takes it at its
    next look instead of after the lease. Its last beat stays on record. The caller commits."""
    now = now or utcnow()
    released = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        # Expired a whole lease ago: free also to a process whose clock runs a little behind.
        .values(expires_at=now - lease)
        .execution_options(synchronize_session=False)
    )
    return _changed(released)


def current_holder(session: Session, name: str = SCHEDULER) -> str | None:
    holder: str | None = session.scalar(
        select(SchedulerLease.holder).where(SchedulerLease.name == name)
    )
    return holder


def scheduler_last_beat(session: Session, name: str = SCHEDULER) -> datetime | None:
    """When the active scheduler last renewed its lease (``None``: no scheduler ever ran).
    It stays put once no scheduler is active, so its age says how long none has been."""
    beat: datetime | None = session.scalar(
        select(SchedulerLease.beat_at).where(SchedulerLease.name == name)
    )
    return beat


def _changed(result: object) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1
