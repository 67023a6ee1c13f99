"""The outbox (domain.jobs) and the unit of work (infra.db): jobs written in a transaction go to
the broker right after it commits, and never if it rolls back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from domain.jobs import JobName, enqueue_job, enqueue_jobs, insert_jobs_sql, jobs_to_dispatch
from domain.models import Job
from infra.db import Database, make_engine
from tests.support import Backend, empty_database


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
