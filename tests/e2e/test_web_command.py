"""``teamkeys web --workers N`` as production runs it: several processes serving one API."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Connection, create_engine, text

from infra.settings import Settings
from teamkeys.runtime import Runtime
from teamkeys.web import create_served_app
from tests.faults import ROOT, settings_env
from tests.support import (
    TEST_ENCRYPTION_KEY,
    free_port,
    metric_samples,
    metric_value,
    services_only,
    wait_until,
    wait_until_ready,
)

needs_services = services_only("`teamkeys web` needs PostgreSQL + Redis")


def server_processes(log_path: Path) -> list[int]:
    return [
        int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", log_path.read_text())
    ]


@pytest.mark.redis
@needs_services
def test_web_with_two_workers_serves_one_api_and_stops_cleanly(
    settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "teamkeys.cli", "web", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            wait_until_ready(http, "teamkeys web")
            servers = wait_until(
                lambda: len(server_processes(log_path)) == 2 and server_processes(log_path),
                timeout=30,
                what="two server processes",
            )
            signed_up = http.post(
                "/v1/signup",
                json={
                    "email": "ada@example.com",
                    "name": "Ada",
                    "password": "correct horse battery",
                },
            )
            assert signed_up.status_code == 201, signed_up.text
            headers = {"Authorization": f"Bearer {signed_up.json()['token']}"}
            # A new connection each time, so either process may answer: a session is good in
            # whichever does (they share only the database).
            for _ in range(10):
                me = httpx.get(f"http://127.0.0.1:{port}/v1/me", headers=headers, timeout=10)
                assert me.status_code == 200
                assert me.json()["account"]["email"] == "ada@example.com"
            # Whichever process answers the scrape counts the requests of both.
            samples = metric_samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
            me_200 = {"method": "GET", "route": "/v1/me", "status": "200"}
            assert metric_value(samples, "teamkeys_http_requests_total", **me_200) == 10
            assert ("teamkeys_emails", frozenset({("status", "sent")})) in samples  # the database's
        assert all(Path(f"/proc/{pid}").exists() for pid in servers)  # neither has died
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    shutil.rmtree(Path(tempfile.gettempdir()) / f"teamkeys-metrics-web-{port}", True)
    log_text = log_path.read_text()
    assert returncode == 0, log_text
    assert "Traceback" not in log_text
    assert log_text.count("Application shutdown complete") == 2
    # uvicorn's lines are in our format, like ours (infra.logs)
    assert re.search(r"^\S+ \S+ INFO +uvicorn\.error: Started server process", log_text, re.M)


def test_the_served_app_closes_its_runtime_when_the_server_shuts_down(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What each server process of ``teamkeys web`` runs: the app made from the environment,
    whose runtime (database pool, broker connection) is closed when the server stops."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    closed: list[Runtime] = []
    close = Runtime.close
    monkeypatch.setattr(Runtime, "close", lambda runtime: closed.append(runtime))
    app = create_served_app()

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):  # what uvicorn runs around serving
            assert not closed

    asyncio.run(start_and_stop())
    assert closed == [app.state.services]
    assert app.state.services.settings.database_url == settings.database_url
    close(app.state.services)


@pytest.mark.parametrize(
    ("flags", "environment", "message"),
    [
        (["--workers", "0"], {}, "must be a whole number, 1 or more; got '0'"),
        ([], {"WEB_CONCURRENCY": "two"}, "must be a whole number, 1 or more; got 'two'"),
        # A configuration its server processes could not start with stops the command at once
        # (uvicorn's supervisor would restart them for ever).
        (["--workers", "2"], {"TEAMKEYS_ENCRYPTION_KEY": ""}, "TEAMKEYS_ENCRYPTION_KEY is not set"),
    ],
)
def test_a_web_command_that_cannot_serve_says_why_and_exits(
    flags: list[str], environment: dict[str, str], message: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    env |= {
        "TEAMKEYS_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "TEAMKEYS_BROKER_URL": "redis://127.0.0.1:1/0",
        "TEAMKEYS_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        **environment,
    }
    done = subprocess.run(
        [sys.executable, "-m", "teamkeys.cli", "web", "--port", str(free_port()), *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.redis
@needs_services
def test_web_stopped_by_a_group_sigterm_finishes_the_request_in_flight_and_exits_0(
    settings: Settings, tmp_path: Path
) -> None:
    """SIGTERM to the web's process group (honcho, systemd) while a request is in flight:
    no new connection is taken, the request completes, and the process exits 0. The request
    is held in flight by a table lock this test takes, and let go once the server is
    stopping."""
    port = free_port()
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "teamkeys.cli", "web", "--port", str(port)],
            cwd=ROOT,
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine = create_engine(settings.database_url)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            wait_until_ready(http, "teamkeys web")
            with engine.connect() as blocker, ThreadPoolExecutor(1) as pool:
                blocker.execute(text("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE"))
                signing_up = pool.submit(
                    http.post,
                    "/v1/signup",
                    json={"email": "ada@example.com", "name": "Ada", "password": "long enough"},
                )
                wait_until(lambda: waiting_on_a_lock(blocker), what="the sign-up to be in flight")
                os.killpg(process.pid, signal.SIGTERM)
                wait_until(
                    lambda: "Waiting for connections to close" in log_path.read_text(),
                    timeout=30,
                    what="the server to stop taking requests and wait for the one in flight",
                )
                blocker.rollback()  # the lock goes: the sign-up goes on
                signed_up = signing_up.result(timeout=30)
        assert signed_up.status_code == 201, signed_up.text
        returncode = process.wait(timeout=30)
    finally:
        engine.dispose()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    log_text = log_path.read_text()
    assert returncode == 0, log_text
    assert "Traceback" not in log_text
    assert "Application shutdown complete" in log_text


def waiting_on_a_lock(connection: Connection) -> bool:
    """Whether another session of this database waits for a lock (on PostgreSQL)."""
    waiting = connection.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )
    return bool(waiting)
