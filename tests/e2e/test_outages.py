"""A dependency down, as operators meet it: PostgreSQL cut off behind a proxy is 503
``unavailable`` with ``Retry-After`` and one log line a request, on a connection that stays
usable; a hung Redis never holds a request, and its jobs still run once it answers again; a bug
is a 500 on a connection that stays usable too. The probes: ``/healthz`` waits on nothing,
``/readyz`` names what is not ready, including a schema not at the latest migration."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.routes import accounts
from infra.settings import Settings
from teamkeys.migrate import upgrade
from teamkeys.runtime import Runtime, build_runtime
from teamkeys.web import build_app
from tests import support
from tests.conftest import System, signed_up
from tests.e2e.test_chaos import assert_delivered_once, wait_for_all_jobs_done
from tests.error_body import assert_error
from tests.faults import (
    ROOT,
    Deployment,
    WorkerProcess,
    database_through_proxy,
    redis_through_proxy,
    settings_env,
)
from tests.faulty_sink import FaultySink
from tests.support import LiveServer, make_backend, services_only

needs_services = services_only("cutting PostgreSQL or Redis off needs them")
PASSWORD = "correct horse battery"


def connection_of(response: httpx.Response) -> object:
    """The client side's address of the connection that carried ``response``: two responses
    with the same one came over one keep-alive connection."""
    return response.extensions["network_stream"].get_extra_info("client_addr")


@contextmanager
def served(settings: Settings) -> Iterator[tuple[Runtime, httpx.Client]]:
    """A web process's runtime and its app under uvicorn (no scheduler, no workers), and one
    HTTP client: one keep-alive connection, as a client or proxy in front keeps it."""
    runtime = build_runtime(settings)
    server = LiveServer(build_app(runtime))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            yield runtime, http
    finally:
        server.stop()
        runtime.close()


def warnings_and_worse(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- a bug -------------------------------------------------------------------------------------


def test_a_bug_is_a_500_with_one_traceback_and_the_connection_stays_usable(
    system: System, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ada = system.sign_up("Ada")
    before = system.http.get("/v1/me", headers=ada["headers"])
    assert before.status_code == 200

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(accounts, "me_out", broken)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        failed = system.http.get("/v1/me", headers=ada["headers"])
    assert_error(failed, 500, "internal_error")
    logged = warnings_and_worse(caplog)
    assert [(r.name, r.exc_info is not None) for r in logged] == [("teamkeys.api", True)]

    monkeypatch.undo()
    after = system.http.get("/v1/me", headers=ada["headers"])
    assert after.status_code == 200
    assert connection_of(before) == connection_of(failed) == connection_of(after)


# --- the database cut off ------------------------------------------------------------------


@needs_services
def test_the_database_cut_off_is_503_unavailable_with_one_log_line_on_a_usable_connection(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # No last-used writes in the background: every log line below is a request's.
    quiet = settings.model_copy(update={"last_used_flush_seconds": 3600.0})
    with database_through_proxy(quiet) as (proxy, via_proxy), served(via_proxy) as (_, http):
        signed_up = http.post(
            "/v1/signup", json={"email": "ada@example.com", "name": "Ada", "password": PASSWORD}
        )
        assert signed_up.status_code == 201, signed_up.text
        headers = {"Authorization": f"Bearer {signed_up.json()['token']}"}
        # Not a read: its transaction's rollback at the end could meet the cut, after answering.
        first = http.get("/healthz")
        assert first.status_code == 200

        proxy.down()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            answers = [
                http.get("/v1/me", headers=headers),
                http.post("/v1/sessions", json={"email": "ada@example.com", "password": PASSWORD}),
                http.get("/v1/me", headers=headers),
                http.get("/invitations/inv_0123456789"),  # a page of the web console
            ]
        for answer in answers[:3]:
            error = assert_error(answer, 503, "unavailable")
            assert "database" in error["message"]
            assert answer.headers["Retry-After"].isdigit()
        page = answers[3]
        assert page.status_code == 503 and page.headers["Retry-After"].isdigit()
        assert page.headers["content-type"].startswith("text/html")
        assert "unavailable right now" in page.text
        logged = warnings_and_worse(caplog)
        assert len(logged) == len(answers), [r.getMessage() for r in logged]
        assert all(r.exc_info is None and "database" in r.getMessage() for r in logged)

        proxy.up()
        again = http.get("/v1/me", headers=headers)
        assert again.status_code == 200
        assert {connection_of(first)} == {connection_of(a) for a in [*answers, again]}


# --- a hung broker ---------------------------------------------------------------------------

#: Requests that write jobs, made at once while the broker hangs.
AT_ONCE = 30
#: A request's bound while the broker hangs: the hand-over's timeout (0.5 s) and room for a
#: busy machine; waiting on the broker instead takes its socket timeout (10 s).
BOUND_SECONDS = 5.0


@needs_services
@pytest.mark.redis
def test_a_hung_broker_holds_no_request_and_its_jobs_run_once_when_it_answers(
    redis_settings: Settings, sink: FaultySink, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    # The worker reads Redis itself; the web process and its relay reach it through the proxy.
    workers.append(WorkerProcess(redis_settings, tmp_path / "worker.log"))
    with (
        redis_through_proxy(redis_settings) as (proxy, via_proxy),
        Deployment(via_proxy) as deployment,
    ):
        owner = signed_up(deployment.runtime, "Olive")
        invitations = f"/v1/teams/{owner['team']['id']}/invitations"
        invitees = [f"invitee{n}@example.com" for n in range(AT_ONCE + 3)]

        def invite(email: str, timeout: float = 60) -> None:
            with httpx.Client(base_url=deployment.server.url, timeout=timeout) as http:
                answer = http.post(
                    invitations, json={"email": email, "role": "user"}, headers=owner["headers"]
                )
            assert answer.status_code == 202, answer.text

        proxy.freeze()
        for email in invitees[:3]:  # one at a time: each is answered without the broker
            invite(email, timeout=BOUND_SECONDS)
        with ThreadPoolExecutor(AT_ONCE) as pool:  # many at once: the probe is not held
            in_flight = pool.map(invite, invitees[3:])
            health = httpx.get(f"{deployment.server.url}/healthz", timeout=BOUND_SECONDS)
            assert health.status_code == 200
            assert len(list(in_flight)) == AT_ONCE
        assert sink.count(lambda m: "invited you" in str(m["Subject"])) == 0

        proxy.resume()
        wait_for_all_jobs_done(deployment, timeout=60)
        assert_delivered_once(deployment, sink, invitees)


# --- the probes ------------------------------------------------------------------------------


def test_readyz_is_503_naming_the_schema_until_teamkeys_db_upgrade_has_run(
    tmp_path: Path,
) -> None:
    with make_backend(tmp_path) as fresh:
        settings = support.test_settings(fresh, tmp_path)
        with served(settings) as (_, http):
            never_migrated = http.get("/readyz")
            assert never_migrated.status_code == 503
            assert never_migrated.headers["Retry-After"].isdigit()
            assert never_migrated.json() == {
                "status": "unavailable",
                "checks": {"database": True, "schema": False, "broker": True},
            }
            assert http.get("/healthz").status_code == 200

            upgrade(fresh.database_url, "0008")  # one migration behind
            assert http.get("/readyz").json()["checks"]["schema"] is False

            done = subprocess.run(
                [sys.executable, "-m", "teamkeys.cli", "db", "upgrade"],
                cwd=ROOT,
                env=settings_env(settings),
                capture_output=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr.decode()
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": True, "schema": True, "broker": True}

            # A newer release migrated further during a rolling deploy: this one stays ready.
            engine = create_engine(fresh.database_url)
            with engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = '9999_a_newer_one'"))
            engine.dispose()
            assert http.get("/readyz").status_code == 200
