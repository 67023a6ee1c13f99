"""Schedulers racing for the lease, each in its own transaction as separate processes would
be: exactly one takes it, whether the row is missing (INSERT) or expired (UPDATE)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy import exc as sa

from domain.clock import utcnow
from domain.models import SchedulerLease
from domain.scheduler_lease import hold_lease, scheduler_last_beat
from teamkeys.runtime import Runtime
from tests.support import wait_until
from workers.scheduler import LeaseHolder, Periodic, run_scheduler

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


def counting_scheduler(
    runtime: Runtime, holder: str
) -> tuple[threading.Thread, threading.Event, list[int]]:
    """A scheduler loop whose one task counts its runs, under the real lease code."""
    runs: list[int] = []
    stop = threading.Event()
    lease = LeaseHolder(runtime.db, beat=0.05, lease=5.0, holder=holder)
    task = Periodic("count", 0.01, lambda: runs.append(1))
    thread = threading.Thread(target=run_scheduler, args=([task], stop, lease), daemon=True)
    thread.start()
    return thread, stop, runs


def test_only_the_holder_runs_the_tasks_and_its_stop_hands_them_over(runtime: Runtime) -> None:
    first, stop_first, first_runs = counting_scheduler(runtime, "first")
    wait_until(lambda: first_runs, what="the first scheduler to work")
    second, stop_second, second_runs = counting_scheduler(runtime, "second")
    time.sleep(0.3)  # several of the second's beats, each refused
    assert second_runs == []

    stop_first.set()
    first.join(timeout=10)
    wait_until(lambda: second_runs, what="the second to take over")  # long before 5 s
    stop_second.set()
    second.join(timeout=10)
    with runtime.db.unit_of_work() as uow:
        lease = uow.session.scalar(select(SchedulerLease))
    assert lease is not None and lease.holder == "second" and lease.expires_at < utcnow()


def test_a_holder_whose_lease_was_taken_stops_working(runtime: Runtime) -> None:
    holder = LeaseHolder(runtime.db, beat=0.05, lease=5.0, holder="stalled")
    assert holder.beat() and holder.active
    with runtime.db.unit_of_work() as uow:  # it stalled past its lease; another took over
        uow.session.execute(
            update(SchedulerLease).values(holder="other", expires_at=utcnow() + LEASE)
        )
        uow.commit()
    assert not holder.beat() and not holder.active
    holder.release()  # not its own any more: left alone
    with runtime.db.unit_of_work() as uow:
        assert uow.session.scalar(select(SchedulerLease.holder)) == "other"
        assert scheduler_last_beat(uow.session) is not None


def test_a_task_failing_on_an_outage_logs_one_line_and_a_bug_its_traceback(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    refused = psycopg.OperationalError("connection failed: Connection refused")
    outage = sa.DBAPIError.instance("SELECT 1", {}, refused, psycopg.Error)
    failures: list[BaseException] = [outage, RuntimeError("a bug")]

    def fail() -> None:
        if failures:
            raise failures.pop(0)

    stop = threading.Event()
    lease = LeaseHolder(runtime.db, beat=0.05, lease=5.0, holder="failing")
    task = Periodic("fails", 0.01, fail)
    thread = threading.Thread(target=run_scheduler, args=([task], stop, lease), daemon=True)
    with caplog.at_level(logging.WARNING, logger="teamkeys.scheduler"):
        thread.start()
        wait_until(lambda: not failures, what="both failures")
        stop.set()
        thread.join(timeout=10)

    told = [r for r in caplog.records if "'fails'" in r.getMessage()]
    assert [(r.levelname, r.exc_info is not None) for r in told] == [
        ("WARNING", False),
        ("ERROR", True),
    ]
    assert "database is down (OperationalError: connection failed" in told[0].getMessage()
