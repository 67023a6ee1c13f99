"""``teamkeys web --workers N`` as production runs it: several processes serving one API."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from teamkeys.settings import Settings
from tests import support
from tests.faults import ROOT, settings_env
from tests.support import free_port, wait_until

needs_services = pytest.mark.skipif(
    support.BACKEND != "services",
    reason="`teamkeys web` needs PostgreSQL + Redis (TEAMKEYS_TEST_BACKEND=services)",
)


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

            def ready() -> bool:
                try:
                    return http.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(ready, timeout=30, what="teamkeys web to answer")
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
            # A new connection each time: the kernel spreads them over both processes, and a
            # session made by one is good in the other (they share only the database).
            for _ in range(10):
                me = httpx.get(f"http://127.0.0.1:{port}/v1/me", headers=headers, timeout=10)
                assert me.status_code == 200
                assert me.json()["account"]["email"] == "ada@example.com"
        assert all(Path(f"/proc/{pid}").exists() for pid in servers)  # neither has died
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    log_text = log_path.read_text()
    assert returncode == 0, log_text
    assert "Traceback" not in log_text
    # Each process ran the app's shutdown (its runtime closed) before the parent stopped.
    assert log_text.count("Application shutdown complete") == 2


@pytest.mark.parametrize(
    ("flag", "environment"), [(["--workers", "0"], {}), ([], {"WEB_CONCURRENCY": "two"})]
)
def test_a_web_process_count_that_is_not_a_whole_number_from_one_up_is_refused_clearly(
    flag: list[str], environment: dict[str, str]
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    env |= {"TEAMKEYS_REDIS_URL": "redis://127.0.0.1:6379/0", **environment}
    done = subprocess.run(
        [sys.executable, "-m", "teamkeys.cli", "web", *flag],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "must be a whole number, 1 or more" in done.stderr
