"""The scheduler lease (``domain.scheduler_lease``): one holder at a time, renewed by its
holder, taken by another only once expired or released."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.models import SchedulerLease
from domain.scheduler_lease import (
    LeaseState,
    hold_lease,
    release_lease,
    scheduler_last_beat,
)

LEASE = timedelta(seconds=30)


def row(session: Session) -> SchedulerLease:
    found = session.scalar(select(SchedulerLease))
    assert found is not None
    return found


def test_the_first_scheduler_takes_the_lease_and_renews_it(session: Session) -> None:
    start = utcnow()
    assert scheduler_last_beat(session) is None
    assert hold_lease(session, "a", lease=LEASE, now=start) == LeaseState(held=True, holder="a")
    later = start + timedelta(seconds=5)
    assert hold_lease(session, "a", lease=LEASE, now=later) == LeaseState(held=True, holder="a")
    session.commit()
    lease = row(session)
    assert (lease.holder, lease.acquired_at, lease.beat_at) == ("a", start, later)
    assert lease.expires_at == later + LEASE
    assert scheduler_last_beat(session) == later


def test_another_is_refused_while_the_lease_runs(session: Session) -> None:
    start = utcnow()
    hold_lease(session, "a", lease=LEASE, now=start)
    almost = start + LEASE - timedelta(microseconds=1)
    assert hold_lease(session, "b", lease=LEASE, now=almost) == LeaseState(held=False, holder="a")
    session.commit()
    assert (row(session).holder, scheduler_last_beat(session)) == ("a", start)


def test_another_takes_an_expired_lease_and_its_old_holder_is_refused(session: Session) -> None:
    start = utcnow()
    hold_lease(session, "a", lease=LEASE, now=start)
    expired = start + LEASE + timedelta(microseconds=1)
    taken = hold_lease(session, "b", lease=LEASE, now=expired)
    assert taken == LeaseState(held=True, holder="b", previous="a")
    session.commit()
    lease = row(session)
    assert (lease.holder, lease.acquired_at, lease.expires_at) == ("b", expired, expired + LEASE)
    # The old holder, back (it was paused, not dead), finds it taken: it must stop.
    back = expired + timedelta(seconds=1)
    assert hold_lease(session, "a", lease=LEASE, now=back) == LeaseState(held=False, holder="b")


def test_a_holder_may_renew_its_own_expired_lease_while_nobody_took_it(session: Session) -> None:
    start = utcnow()
    hold_lease(session, "a", lease=LEASE, now=start)
    late = start + 2 * LEASE
    assert hold_lease(session, "a", lease=LEASE, now=late) == LeaseState(held=True, holder="a")
    assert row(session).acquired_at == start


def test_a_released_lease_is_free_at_once_and_keeps_its_last_beat(session: Session) -> None:
    start = utcnow()
    hold_lease(session, "a", lease=LEASE, now=start)
    assert release_lease(session, "b", lease=LEASE, now=start) is False  # not b's to release
    assert hold_lease(session, "b", lease=LEASE, now=start).held is False
    stopped = start + timedelta(seconds=1)
    assert release_lease(session, "a", lease=LEASE, now=stopped) is True
    session.commit()
    assert scheduler_last_beat(session) == start
    taken = hold_lease(session, "b", lease=LEASE, now=stopped)
    assert taken == LeaseState(held=True, holder="b", previous="a")
    assert release_lease(session, "a", lease=LEASE, now=stopped) is False
