"""The README's first command, as a newcomer runs it: ``teamkeys dev`` in a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import free_port, wait_until, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def test_teamkeys_dev_runs_everything_and_keeps_the_welcome_email_as_a_file(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    env |= {"TEAMKEYS_DATA_DIR": str(tmp_path / "var"), "TEAMKEYS_ARGON2_MEMORY_KIB": "1024"}
    log_path = tmp_path / "dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "teamkeys.cli", "dev", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                wait_until_ready(http, "teamkeys dev")
                response = http.post(
                    "/v1/signup",
                    json={
                        "email": "newcomer@example.com",
                        "name": "Newcomer",
                        "password": "correct horse battery",
                    },
                )
                assert response.status_code == 201

            def saved() -> list[Path]:
                return list((tmp_path / "var" / "mail").glob("*.eml"))

            [eml] = wait_until(saved, timeout=15, what="the welcome email file")
            content = eml.read_text()
            assert "To: Newcomer <newcomer@example.com>" in content
            assert "multipart/alternative" in content
            time.sleep(0.2)
            log_text = log_path.read_text()
            assert re.search(r'email to newcomer@example.com ".*" saved as .*\.eml', log_text)
            assert (tmp_path / "var" / "teamkeys.db").exists()
        finally:
            process.terminate()
            returncode = process.wait(timeout=30)
    # SIGTERM stops it cleanly: its scheduler, the active one by the same lease as a
    # `teamkeys scheduler` process, gives the lease up for whichever runs next.
    log_text = log_path.read_text()
    assert returncode == 0, log_text
    assert re.search(r"scheduler (\S+) is the active one", log_text)
    assert re.search(r"scheduler (\S+) released its lease", log_text)
    assert "Traceback" not in log_text
