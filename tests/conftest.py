"""Fixtures: a backend per session (SQLite, or PostgreSQL + Redis with
TEAMKEYS_TEST_BACKEND=services), and per test a whole running system: migrations, a real SMTP
server on loopback, workers, the relay, and the API served over HTTP.

The tiers are folders, each marked by its name (``pytest -m rules`` runs ``tests/rules``):

* ``unit``: pure functions, no database;
* ``rules``: domain rules on a real database session rolled back after each test;
* ``jobs``: workers, the runner, the relay, the outbox, SMTP and schema migrations, no HTTP;
* ``e2e``: the whole system over HTTP, for what only HTTP shows."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain import accounts
from domain.clock import utcnow
from domain.models import Membership, ProductionStatus, Team
from infra.settings import Settings
from teamkeys.embedded import Embedded
from teamkeys.migrate import upgrade
from teamkeys.runtime import Runtime
from teamkeys.web import build_app
from tests.faulty_sink import FaultySink
from tests.support import (
    Backend,
    LiveServer,
    empty_database,
    empty_queues,
    make_backend,
    test_settings,
    wait_until,
)

#: The tiers, cheapest first; each is a folder of tests/ and a marker of the same name.
TIERS = ("unit", "rules", "jobs", "e2e", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier, the folder it is in; a test collected from outside
    tests/ is left unmarked."""
    root = Path(__file__).parent
    for item in items:
        if not item.path.is_relative_to(root):
            continue
        parts = item.path.relative_to(root).parts
        if len(parts) > 1 and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


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


def signed_up(runtime: Runtime, name: str = "Ada", email: str | None = None) -> dict[str, Any]:
    """Quick set-up: a verified account owning a new team, and a session for it, as signing
    up and opening the emailed link make them (both driven over HTTP in
    tests/e2e/test_accounts.py). Returns what ``POST /v1/signup`` answers, with ``headers``
    for the session added."""
    email = email or f"{name.lower().replace(' ', '.')}.{next(_emails)}@example.com"
    with runtime.db.unit_of_work() as uow:
        password_hash = accounts.hash_new_password(uow.session, runtime.passwords, PASSWORD)
        account = accounts.create_account(
            uow.session, email=email, name=name, password_hash=password_hash, verified=True
        )
        team = accounts.found_personal_team(uow.session, account)
        issued = accounts.start_session(
            uow.session, account, runtime.account_policy, accounts.Client("127.0.0.1", "tests")
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


@dataclass
class System:
    """A running teamkeys and a client for its API, as a test drives it."""

    runtime: Runtime
    sink: FaultySink
    http: httpx.Client
    embedded: Embedded

    def sign_up(self, name: str = "Ada", email: str | None = None) -> dict[str, Any]:
        """Quick set-up: a verified account owning a new team, and a session for it
        (:func:`signed_up`)."""
        return signed_up(self.runtime, name, email)

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

    def key_secret(self, person: dict[str, Any], kind: str = "trial", name: str = "k") -> str:
        """The secret of a new key of ``person``'s team, made over HTTP as a member makes one:
        asked for, generated by the key job, revealed (tested in tests/e2e/test_api_keys.py)."""
        keys = f"/v1/teams/{person['team']['id']}/api-keys"
        asked = self.http.post(keys, json={"name": name, "kind": kind}, headers=person["headers"])
        assert asked.status_code == 202, asked.text
        key = f"{keys}/{asked.json()['id']}"

        def active() -> bool:
            return bool(self.http.get(key, headers=person["headers"]).json()["status"] == "active")

        wait_until(active, what=f"{person['account']['name']}'s {kind} key")
        revealed = self.http.post(f"{key}/reveal", headers=person["headers"])
        assert revealed.status_code == 200, revealed.text
        return str(revealed.json()["secret"])

    @contextmanager
    def jobs_held(self) -> Iterator[None]:
        """Jobs committed in the block wait in the outbox until it ends, then go to the workers
        (their dispatch lease keeps the relay away meanwhile): a test sees the state a request
        left before any job acts on it, or changes it first. Dramatiq's own pause would cost
        3 s (its consumer restarts after that delay)."""
        db = self.runtime.db
        held: list[tuple[str, str]] = []
        dispatch, db.dispatch = db.dispatch, held.extend
        try:
            yield
        finally:
            db.dispatch = dispatch
            if held:
                self.runtime.relay.dispatch_new(held)

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
    server = LiveServer(build_app(runtime))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield System(runtime, sink, client, embedded)
    finally:
        # Both wait for their threads' next tick (about 0.2 s each): stop them side by side.
        # No request is in flight by now: the test and its client are done.
        stopping = threading.Thread(target=server.stop, name="live-server-stop")
        stopping.start()
        embedded.stop()
        stopping.join()
        empty_queues(runtime.broker)
