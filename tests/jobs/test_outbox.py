"""The outbox under concurrency: jobs and emails asked for by transactions that overlap."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.emails import Address, NewEmail, Template, queue_email
from domain.models import Email, Job
from teamkeys.runtime import Runtime


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
