"""Schedulers racing for the lease, each in its own transaction as separate processes would
be: exactly one takes it, whether the row is missing (INSERT) or expired (UPDATE)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import delete, select, update

from domain.clock import utcnow
from domain.models import SchedulerLease
from domain.scheduler_lease import hold_lease
from teamkeys.runtime import Runtime

LEASE = timedelta(seconds=30)
RACERS = 4


def race(runtime: Runtime, round_: int) -> list[str]:
    """Every racer tries to take the lease at once; the ones that got it."""
    start = threading.Barrier(RACERS)
    winners: list[str] = []

    def take(holder: str) -> None:
        start.wait()
        with runtime.db.unit_of_work() as uow:
            if hold_lease(uow.session, holder, lease=LEASE).held:
                winners.append(holder)
            uow.commit()

    threads = [threading.Thread(target=take, args=(f"racer {round_}.{n}",)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return winners


def test_of_schedulers_racing_for_the_lease_exactly_one_takes_it(runtime: Runtime) -> None:
    db = runtime.db
    for round_ in range(6):
        with db.unit_of_work() as uow:
            if round_ % 2 == 0:  # no row yet: the racers insert
                uow.session.execute(delete(SchedulerLease))
            else:  # the last winner died: its lease ran out
                uow.session.execute(
                    update(SchedulerLease).values(expires_at=utcnow() - timedelta(seconds=1))
                )
            uow.commit()
        winners = race(runtime, round_)
        assert len(winners) == 1, winners
        with db.unit_of_work() as uow:
            assert uow.session.scalars(select(SchedulerLease.holder)).all() == winners
