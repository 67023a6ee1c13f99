"""End-to-end fixtures on top of ``system``: support agents made the way operators make them."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import select

from domain.models import Email
from infra.settings import Settings, get_settings
from teamkeys import cli
from teamkeys.runtime import Runtime
from tests import support
from tests.conftest import System
from tests.faults import Deployment, TcpProxy, WorkerProcess, broker_through_proxy
from tests.support import REDIS_URL, missing_service, redis_available, wait_until

AGENT_PASSWORD = "support desk passphrase"

#: Makes a support agent with ``teamkeys support add-agent`` and signs them in.
AddSupportAgent = Callable[..., dict[str, Any]]


def dead_emails(system: System, add_support_agent: AddSupportAgent) -> list[dict[str, Any]]:
    """The dead emails as a support agent sees them at ``/v1/support/emails?status=dead``."""
    agent = add_support_agent()
    response = system.http.get(
        "/v1/support/emails", params={"status": "dead"}, headers=agent["headers"]
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def a_dead_email(system: System) -> str:
    """Makes an email die (the mail server says "try later" to every attempt) and gives its
    recipient's address: Dave, a user of Carol's team, is made an owner and is told so. The
    server takes mail again afterwards."""
    carol = system.sign_up("Carol")
    dave = system.join(carol["team"]["id"], "Dave")
    address = str(dave["account"]["email"])
    system.sink.refuse_with, system.sink.refuse_only = (421, "4.7.0 try again later"), {address}
    changed = system.http.patch(
        f"/v1/teams/{carol['team']['id']}/members/{dave['account']['id']}",
        json={"role": "owner"},
        headers=carol["headers"],
    )
    assert changed.status_code == 200, changed.text

    def dead() -> bool:
        with system.runtime.db.unit_of_work() as uow:
            query = select(Email.status).where(Email.to_address == address)
            return list(uow.session.scalars(query)) == ["dead"]

    wait_until(dead, timeout=30, what="the role change email to die")
    system.sink.refuse_with, system.sink.refuse_only = None, None
    return address


def settings_as_environment(settings: Settings) -> dict[str, str | None]:
    """The environment that makes ``Settings()`` equal ``settings`` (``None``: leave unset)."""
    prefix = settings.model_config.get("env_prefix", "")
    environment: dict[str, str | None] = {}
    as_json = settings.model_dump(mode="json")
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if value is None:
            text = None
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float | Path):
            text = str(value)
        else:
            text = json.dumps(as_json[name])
        environment[f"{prefix}{name}".upper()] = text
    return environment


class Running(Protocol):
    """A running teamkeys: the ``system`` fixture or a :class:`tests.faults.Deployment`."""

    @property
    def runtime(self) -> Runtime: ...


def run_cli(system: Running, argv: list[str], stdin: str = "") -> int:
    """Run the real ``teamkeys`` command against the running system's database.

    The CLI reads settings from the environment through the cached ``get_settings``; the
    environment holds the running system's settings for the call only, and the cache is
    emptied before and after so no other code sees them."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings_as_environment(system.runtime.settings).items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        patch.setenv("TEAMKEYS_LOG_LEVEL", "WARNING")
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        get_settings.cache_clear()
        try:
            return cli.main(argv)
        finally:
            get_settings.cache_clear()


def run_add_agent(system: Running, email: str, name: str, password: str = AGENT_PASSWORD) -> int:
    """``teamkeys support add-agent``, password on standard input."""
    return run_cli(system, ["support", "add-agent", email, "--name", name], password + "\n")


@pytest.fixture
def add_support_agent(system: System) -> AddSupportAgent:
    def add(email: str = "sam@support.teamkeys.test", name: str = "Sam") -> dict[str, Any]:
        assert run_add_agent(system, email, name) == 0
        signed_in = system.http.post(
            "/v1/sessions", json={"email": email, "password": AGENT_PASSWORD}
        )
        assert signed_in.status_code == 201, signed_in.text
        headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        me = system.http.get("/v1/me", headers=headers).json()
        return {"account": me["account"], "headers": headers}

    return add


# --- with a real broker (Redis or RabbitMQ) and real worker processes ----------------------


@pytest.fixture
def broker_settings(settings: Settings) -> Settings:
    """``settings`` with a broker worker processes can share: the services backend's (Redis or
    RabbitMQ, by TEAMKEYS_TEST_BROKER), or on the embedded backend the test Redis."""
    update: dict[str, object] = {}
    if not settings.broker_url:
        if support.BROKER != "redis":
            pytest.skip("RabbitMQ is tested on TEAMKEYS_TEST_BACKEND=services")
        if not redis_available():
            missing_service(f"Redis at {REDIS_URL}")
        update["broker_url"] = REDIS_URL
    if os.environ.get("TEAMKEYS_TEST_PRODUCTION_TIMING"):
        # Measure recovery with the shipped lease and relay interval, not the quick test ones.
        defaults = Settings(_env_file=None)  # type: ignore[call-arg]
        update |= {
            "job_run_lease_seconds": defaults.job_run_lease_seconds,
            "job_dispatch_lease_seconds": defaults.job_dispatch_lease_seconds,
            "relay_interval_seconds": defaults.relay_interval_seconds,
        }
    return settings.model_copy(update=update)


@pytest.fixture
def redis_settings(broker_settings: Settings) -> Settings:
    """The name tests knew ``broker_settings`` by when the broker could only be Redis."""
    return broker_settings


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; stopped (or already killed) at the end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def broker_behind_proxy(
    broker_settings: Settings, workers: list[WorkerProcess], tmp_path: Path
) -> Iterator[tuple[TcpProxy, Deployment]]:
    """This process's API and a worker process, both reaching the broker through a proxy the
    test may take down."""
    with (
        broker_through_proxy(broker_settings) as (proxy, via_proxy),
        Deployment(via_proxy) as deployment,
    ):
        workers.append(WorkerProcess(via_proxy, tmp_path / "worker.log"))
        yield proxy, deployment
