"""The outbox (domain.jobs) and the unit of work (infra.db): jobs written in a transaction go to
the broker right after it commits, and never if it rolls back; emails asked for by transactions
that overlap are queued once."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.emails import Address, NewEmail, Template, queue_email
from domain.jobs import JobName, enqueue_job, enqueue_jobs, insert_jobs_sql, jobs_to_dispatch
from domain.models import Email, Job
from infra.db import Database, make_engine
from teamkeys.runtime import Runtime
from tests.support import Backend, empty_database
from workers.relay import release_jobs
from workers.runner import _claim


@pytest.fixture
def db(backend: Backend) -> Iterator[Database]:
    empty_database(backend.database_url)
    database = Database(make_engine(backend.database_url))
    yield database
    database.dispose()


class Dispatched:
    """A stand-in for the relay's hand-over: what it was given, and when."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[list[tuple[str, str]]] = []
        self.committed_before: list[bool] = []

    def __call__(self, jobs: Sequence[tuple[str, str]]) -> None:
        with self.db.unit_of_work() as uow:  # another transaction sees them: committed
            ids = [job_id for job_id, _ in jobs]
            self.committed_before.append(
                len(uow.session.scalars(select(Job.id).where(Job.id.in_(ids))).all()) == len(ids)
            )
        self.calls.append(list(jobs))


def test_committed_jobs_go_to_the_broker_after_the_commit(db: Database) -> None:
    dispatched = Dispatched(db)
    db.dispatch_through(dispatched, timedelta(seconds=30))
    with db.unit_of_work() as uow:
        one = enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="eml_1")
        enqueue_jobs(
            uow.session, JobName.SEND_EMAIL, [{"email_id": "eml_2"}, {"email_id": "eml_3"}]
        )
        assert len(jobs_to_dispatch(uow.session)) == 3
        uow.commit()
    assert dispatched.committed_before == [True]
    [handed] = dispatched.calls
    assert handed[0] == (one.id, "send_email") and len(handed) == 3
    with db.unit_of_work() as uow:
        jobs = uow.session.scalars(select(Job)).all()
        # Presumed on their way through the broker for the dispatch lease: the relay waits.
        assert all(job.lease_until is not None for job in jobs)
        assert sorted(job.args["email_id"] for job in jobs) == ["eml_1", "eml_2", "eml_3"]


def test_rolled_back_jobs_are_never_handed_over(db: Database) -> None:
    dispatched = Dispatched(db)
    db.dispatch_through(dispatched, timedelta(seconds=30))
    with db.unit_of_work() as uow:
        enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="eml_1")
    with db.unit_of_work() as uow:
        assert jobs_to_dispatch(uow.session) == []
        uow.commit()
        assert uow.session.scalars(select(Job)).all() == []
    assert dispatched.calls == []


def test_without_a_dispatch_jobs_are_left_to_the_relay_at_once(db: Database) -> None:
    with db.unit_of_work() as uow:
        enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="eml_1")
        uow.commit()
    with db.unit_of_work() as uow:
        [job] = uow.session.scalars(select(Job)).all()
        assert job.lease_until is None


def test_the_sql_insert_takes_names_from_code_only() -> None:
    assert "FROM new_invoices src" in insert_jobs_sql("new_invoices", invoice_id="id")
    with pytest.raises(ValueError, match="names from code"):
        insert_jobs_sql("new_invoices; DROP TABLE jobs", invoice_id="id")
    with pytest.raises(ValueError, match="names from code"):
        insert_jobs_sql("new_invoices", invoice_id="id') --")


def test_two_transactions_asking_for_one_email_at_once_queue_it_once(runtime: Runtime) -> None:
    """The second asks while the first has inserted but not committed: on PostgreSQL its insert
    waits on the cause's unique key and then yields to the first (ON CONFLICT DO NOTHING); on
    SQLite it waits for the write lock and then finds the first's row."""
    cause = "test:one-cause"

    def ask(session: Session) -> str:
        email = queue_email(
            session,
            NewEmail(
                Template.WELCOME,
                cause=cause,
                to=Address("ann@example.com", "Ann"),
                context={"team_name": "Ann's Team", "account_name": "Ann"},
                reason="A test asked for it.",
            ),
        )
        return email.id

    with runtime.db.unit_of_work() as uow:
        first_id = ask(uow.session)
        second = runtime.db.unit_of_work()
        answers: list[str] = []

        def in_second() -> None:
            with second:
                answers.append(ask(second.session))
                second.commit()

        thread = threading.Thread(target=in_second)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second transaction did not wait for the first"
        uow.commit()
    thread.join(timeout=30)

    assert answers == [first_id]
    with runtime.db.unit_of_work() as check:
        assert check.session.scalar(select(func.count()).where(Email.cause == cause)) == 1
        jobs = check.session.scalars(select(Job).where(Job.name == "send_email")).all()
        assert [job.args["email_id"] for job in jobs].count(first_id) == 1


def test_a_late_hand_over_releases_only_the_jobs_no_worker_has_claimed(runtime: Runtime) -> None:
    """The hand-over gave up waiting on the broker, but the send got through and a worker
    claimed one of the jobs: releasing them to the relay leaves that one alone (freeing it
    would let the relay start a second run beside the worker's), and the other goes."""
    ctx = runtime.worker_context
    with ctx.db.unit_of_work() as uow:
        claimed = enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="claimed").id
        waiting = enqueue_job(uow.session, JobName.SEND_EMAIL, email_id="waiting").id
        uow.session.commit()  # not handed to the broker
    taken = _claim(ctx, claimed)
    assert taken is not None
    with ctx.db.unit_of_work() as uow:
        before = uow.session.get_one(Job, claimed)
        lease, started = before.lease_until, before.started_at

    release_jobs(ctx.db, [claimed, waiting])

    with ctx.db.unit_of_work() as uow:
        after = uow.session.get_one(Job, claimed)
        assert (after.lease_until, after.started_at) == (lease, started)
        assert uow.session.get_one(Job, waiting).lease_until is None
