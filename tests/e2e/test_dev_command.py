"""The README's first command, as a newcomer runs it: ``teamkeys dev`` in a fresh folder."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.support import teamkeys_dev, wait_until


def test_teamkeys_dev_runs_everything_and_keeps_the_welcome_email_as_a_file(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "dev.log"
    with teamkeys_dev(tmp_path, log_path) as (process, http):
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
    # SIGTERM stops it cleanly: its scheduler, the active one by the same lease as a
    # `teamkeys scheduler` process, gives the lease up for whichever runs next.
    log_text = log_path.read_text()
    assert process.returncode == 0, log_text
    assert re.search(r"scheduler (\S+) is the active one", log_text)
    assert re.search(r"scheduler (\S+) released its lease", log_text)
    assert "Traceback" not in log_text
