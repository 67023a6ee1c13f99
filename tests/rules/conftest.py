"""The rules tier: domain rules on a real database session, rolled back at the end of each test.

No HTTP, no workers, no SMTP: a test calls the domain's functions with ``session`` and reads
what they wrote, in the same transaction. ``session.commit()`` ends a step as a request's
commit would (it releases a savepoint); the connection's own transaction, begun before the
test, is rolled back after it, so the next test finds the database as this one did."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import accounts
from domain.clock import utcnow
from domain.errors import DomainError
from domain.jobs import JobName, jobs_to_dispatch, jobs_written, take_jobs_to_dispatch
from domain.models import Account, Email, Membership, ProductionStatus, Role, Team
from infra.services import Services, build_services
from tests.conftest import PASSWORD
from tests.support import Backend, empty_database_if_used, test_settings


@pytest.fixture(scope="session")
def services(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The policies, password hashing and secret box built from test settings, once."""
    built = build_services(test_settings(backend, tmp_path_factory.mktemp("rules")))
    yield built
    built.close()


@pytest.fixture
def session(services: Services, backend: Backend) -> Iterator[Session]:
    """One connection, its transaction begun; a session joined to it that turns its own
    transactions into savepoints; everything rolled back at the end.

    Like a request's, the session expires what it loaded on each commit, so a later step reads
    the database again rather than objects cached since an earlier one.

    On SQLite the fixture holds the writer lock for the whole test: opening a second unit of
    work (``services.db.unit_of_work()``) inside a rules test would block."""
    empty_database_if_used(backend.database_url)
    with services.db.engine.connect() as connection:
        transaction = connection.begin()
        joined = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=True
        )
        try:
            yield joined
        finally:
            joined.close()
            transaction.rollback()


_names = itertools.count(1)


@dataclass
class People:
    """Quick set-up of verified people and their teams, as signing up and accepting
    invitations make them (both tested over HTTP in tests/e2e)."""

    session: Session
    password_hash: str

    def sign_up(self, name: str = "Ada") -> Account:
        """A verified account owning a new team of its own."""
        email = f"{name.lower().replace(' ', '.')}.{next(_names)}@example.com"
        account = accounts.create_account(
            self.session,
            email=email,
            name=name,
            password_hash=self.password_hash,
            verified=True,
        )
        accounts.found_personal_team(self.session, account)
        self.session.commit()
        return account

    def agent(self, name: str = "Sam") -> Account:
        """A support agent, as ``teamkeys support add-agent`` makes one (tested in e2e)."""
        account = self.sign_up(name)
        account.is_support = True
        self.session.commit()
        return account

    def join(self, team_id: str, name: str, role: Role = Role.USER) -> Account:
        """Sign someone up, then seat them in ``team_id`` (their own new team is closed)."""
        account = self.sign_up(name)
        membership = self.membership(account)
        own_team = self.session.get_one(Team, membership.team_id)
        own_team.closed_at = utcnow()
        membership.team_id, membership.role = team_id, role
        self.session.commit()
        return account

    def membership(self, account: Account) -> Membership:
        return self.session.get_one(Membership, account.id, populate_existing=True)

    def team_of(self, account: Account) -> str:
        return self.membership(account).team_id

    def approve_for_production(self, team_id: str) -> None:
        self.session.get_one(Team, team_id).production_status = ProductionStatus.APPROVED
        self.session.commit()


@pytest.fixture(scope="session")
def password_hash(services: Services) -> str:
    """Every test person's password, hashed once."""
    return services.passwords.hash(PASSWORD)


@pytest.fixture
def people(session: Session, password_hash: str) -> People:
    return People(session, password_hash)


@contextmanager
def refused(session: Session, kind: type[DomainError], code: str | None = None) -> Iterator[None]:
    """The block is refused with ``kind`` (the API answers each kind with its status) and, if
    given, this ``code``; what it wrote is rolled back, as a refused request's is, and so are
    the jobs it noted for dispatch: they never existed. Those noted before the block stay
    noted (this session's commits do not take them, as a unit of work's would)."""
    before = jobs_to_dispatch(session)
    with pytest.raises(kind) as raised:
        yield
    session.rollback()
    take_jobs_to_dispatch(session)
    for job_id, name in before:
        jobs_written(session, JobName(name), [job_id])
    if code is not None:
        assert raised.value.code == code, raised.value


def roles(session: Session, team_id: str) -> dict[str, str]:
    """Who is in ``team_id``, as account id → role."""
    rows = session.execute(
        select(Membership.account_id, Membership.role).where(Membership.team_id == team_id)
    )
    return {account_id: str(role) for account_id, role in rows.tuples()}


def email_recipients(session: Session, template: str) -> list[str]:
    """Who the rules decided to email with ``template``."""
    return sorted(session.scalars(select(Email.to_address).where(Email.template == template)))
