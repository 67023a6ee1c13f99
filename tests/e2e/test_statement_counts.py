"""How many SQL statements and transactions the hot paths cost, per request and per job, so a
regression shows (and an improvement is written down here). Counted on the running system's
engine: a request's statements are those of the server's threads, a job's those of the worker
threads; BEGIN is a transaction, not a statement (SQLite's ``BEGIN IMMEDIATE`` is SQL, a
PostgreSQL BEGIN is not)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from dramatiq.worker import _WorkerThread
from sqlalchemy import Engine, event, select

from domain.models import Job, JobStatus
from infra import db
from tests.conftest import System
from tests.support import wait_until

PASSWORD = "correct horse battery"


@dataclass
class Counts:
    """Statements and transactions, by who ran them: ``request`` or ``job``."""

    statements: Counter[str] = field(default_factory=Counter)
    transactions: Counter[str] = field(default_factory=Counter)
    seen: list[str] = field(default_factory=list)

    def of(self, who: str) -> tuple[int, int]:
        return self.statements[who], self.transactions[who]

    def at_most(self, who: str, statements: int, transactions: int) -> None:
        """Each figure on its own (a tuple compares the second only when the firsts are
        equal), and none of them nothing: a path that went uncounted is no improvement."""
        got_statements, got_transactions = self.of(who)
        assert 0 < got_statements <= statements, (who, got_statements, statements)
        assert 0 < got_transactions <= transactions, (who, got_transactions, transactions)


def _who() -> str | None:
    thread = threading.current_thread()
    if isinstance(thread, _WorkerThread):
        return "job"
    if thread.name.startswith("AnyIO worker thread"):
        return "request"
    return None  # the test itself, the relay, the scheduler: not this path's cost


@dataclass
class Counting:
    """Statements of the system's engine, counted while ``on`` (as :func:`counting` sets it)."""

    counts: Counts = field(default_factory=Counts)
    on: threading.Event = field(default_factory=threading.Event)

    def statement(self, *args: Any) -> None:
        sql: str = args[2]
        who = _who()
        if who is None or not self.on.is_set() or sql.lstrip().upper().startswith("BEGIN"):
            return
        self.counts.statements[who] += 1
        self.counts.seen.append(f"{who}: {' '.join(sql.split())[:120]}")

    def begin(self, *_args: Any) -> None:
        who = _who()
        if who is not None and self.on.is_set():
            self.counts.transactions[who] += 1


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> Counting:
    """Listens on the engine from its making, before any thread uses it: a listener added to a
    live engine changes the listener lists other threads are walking, and the SQLite engine's
    own commit listener (which frees its write lock) can be skipped."""
    counting = Counting()

    def listened(url: str, **kwargs: Any) -> Engine:
        engine = db.make_engine(url, **kwargs)
        event.listen(engine, "before_cursor_execute", counting.statement)
        event.listen(engine, "begin", counting.begin)
        return engine

    monkeypatch.setattr("infra.services.make_engine", listened)
    return counting


@contextmanager
def counting(counter: Counting) -> Iterator[Counts]:
    counter.counts = Counts()
    counter.on.set()
    try:
        yield counter.counts
    finally:
        counter.on.clear()


def jobs_done(system: System) -> bool:
    with system.runtime.db.unit_of_work() as uow:
        return not uow.session.scalars(
            select(Job.id).where(Job.status == JobStatus.PENDING)
        ).first()


def report(what: str, counts: Counts) -> None:
    print(f"{what}: request {counts.of('request')}, job {counts.of('job')}")
    print("\n".join(counts.seen))


def test_signing_in(counter: Counting, system: System) -> None:
    ada = system.sign_up("Ada")
    with counting(counter) as counts:
        signed_in = system.http.post(
            "/v1/sessions", json={"email": ada["account"]["email"], "password": PASSWORD}
        )
    report("sign-in", counts)

    assert signed_in.status_code == 201, signed_in.text
    counts.at_most("request", 3, 2)  # hashing runs between two transactions


def asked_of_the_team(counter: Counting, system: System, path: str, body: dict[str, str]) -> Counts:
    """Counts a POST to one of a new team's collections, and the jobs it causes, to the end."""
    ada = system.sign_up("Ada")
    wait_until(lambda: jobs_done(system), what="sign-up's jobs")
    with counting(counter) as counts:
        asked = system.http.post(
            f"/v1/teams/{ada['team']['id']}/{path}", json=body, headers=ada["headers"]
        )
        assert asked.status_code == 202, asked.text
        wait_until(lambda: jobs_done(system), what=f"the job of {path}")
    report(path, counts)
    return counts


def test_an_invitation_and_its_job(counter: Counting, system: System) -> None:
    invitation = {"email": "ben.counted@example.com", "role": "user"}
    counts = asked_of_the_team(counter, system, "invitations", invitation)

    counts.at_most("request", 9, 1)
    counts.at_most("job", 7, 3)


def test_a_key_and_its_job(counter: Counting, system: System) -> None:
    key = {"name": "counted", "kind": "trial"}
    counts = asked_of_the_team(counter, system, "api-keys", key)

    counts.at_most("request", 5, 1)
    counts.at_most("job", 5, 2)


def test_a_usage_call(counter: Counting, system: System) -> None:
    ada = system.sign_up("Ada")
    secret = system.key_secret(ada)
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"id": "req-counted-0", "model": "teamkeys-small", "input_tokens": 10}
    system.http.post("/v1/usage", json={**body, "output_tokens": 5}, headers=headers)
    with counting(counter) as counts:
        recorded = system.http.post(
            "/v1/usage", json={**body, "id": "req-counted-1", "output_tokens": 5}, headers=headers
        )
    report("usage", counts)

    assert recorded.status_code == 202, recorded.text
    counts.at_most("request", 3, 1)
