"""Fixtures: a backend per session (SQLite, or PostgreSQL + Redis with
TEAMKEYS_TEST_BACKEND=services), and per test a whole running system: migrations, a real SMTP
server on loopback, workers, the relay, and the API served over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from domain import accounts
from domain.clock import utcnow
from domain.models import Membership, ProductionStatus, Team
from infra.migrate import upgrade
from infra.settings import Settings
from teamkeys.embedded import Embedded
from teamkeys.runtime import Runtime
from tests.faulty_sink import FaultySink
from tests.support import Backend, LiveServer, empty_database, make_backend, test_settings


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with make_backend(tmp_path_factory.mktemp("db")) as made:
        upgrade(made.database_url)
        yield made


@pytest.fixture
def sink() -> Iterator[FaultySink]:
    with FaultySink() as started:
        yield started


@pytest.fixture
def settings(backend: Backend, sink: FaultySink, tmp_path: Path) -> Settings:
    empty_database(backend.database_url)
    return test_settings(backend, tmp_path, smtp_host="127.0.0.1", smtp_port=sink.port)


_emails = itertools.count(1)
#: Every test person's password.
PASSWORD = "correct horse battery"


@dataclass
class System:
    """A running teamkeys and a client for its API, as a test drives it."""

    runtime: Runtime
    sink: FaultySink
    http: httpx.Client
    embedded: Embedded

    def sign_up(self, name: str = "Ada", email: str | None = None) -> dict[str, Any]:
        """Quick set-up: a verified account owning a new team, and a session for it, as signing
        up and opening the emailed link make them (both driven over HTTP in
        tests/e2e/test_accounts.py). Returns what ``POST /v1/signup`` answers, with ``headers``
        for the session added."""
        email = email or f"{name.lower().replace(' ', '.')}.{next(_emails)}@example.com"
        with self.runtime.db.unit_of_work() as uow:
            password_hash = accounts.hash_new_password(
                uow.session, self.runtime.passwords, PASSWORD
            )
            account = accounts.create_account(
                uow.session, email=email, name=name, password_hash=password_hash, verified=True
            )
            team = accounts.found_personal_team(uow.session, account)
            issued = accounts.start_session(
                uow.session,
                account,
                self.runtime.account_policy,
                accounts.Client("127.0.0.1", "tests"),
            )
            uow.commit()
        return {
            "account": {
                "id": account.id,
                "email": account.email,
                "name": account.name,
                "email_verified": True,
            },
            "team": {"id": team.id, "name": team.name, "production_status": "none"},
            "token": issued.token,
            "headers": {"Authorization": f"Bearer {issued.token}"},
        }

    def join(self, team_id: str, name: str, role: str = "user") -> dict[str, Any]:
        """Quick set-up: sign someone up, then seat them in ``team_id`` instead of their own new
        team (which is closed), as an accepted invitation would. Invitations themselves are
        tested in tests/e2e/test_invitations.py."""
        person = self.sign_up(name)
        with self.runtime.db.unit_of_work() as uow:
            membership = uow.session.get(Membership, person["account"]["id"])
            assert membership is not None
            own_team = uow.session.get(Team, membership.team_id)
            assert own_team is not None
            own_team.closed_at = utcnow()
            membership.team_id, membership.role = team_id, role
            uow.commit()
        person["team"] = {"id": team_id}
        return person

    def approve_for_production(self, team_id: str) -> None:
        """Set-up for key tests: the team passed the Go to Production review."""
        with self.runtime.db.unit_of_work() as uow:
            team = uow.session.get(Team, team_id)
            assert team is not None
            team.production_status = ProductionStatus.APPROVED
            uow.commit()


@pytest.fixture
def system(settings: Settings, sink: FaultySink) -> Iterator[System]:
    with running_system(settings, sink) as running:
        yield running


@contextmanager
def running_system(settings: Settings, sink: FaultySink) -> Iterator[System]:
    """Migrations applied, workers, relay and scheduler started, the API served over HTTP."""
    embedded = Embedded(settings)
    runtime = embedded.start()
    runtime.limiter.reset()  # abuse counts in Redis outlive a test; each starts from none
    server = LiveServer(create_app(runtime))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield System(runtime, sink, client, embedded)
    finally:
        server.stop()
        embedded.stop()
        runtime.broker.flush_all()
