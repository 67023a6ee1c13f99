"""End-to-end fixtures on top of ``system``: support agents made the way operators make them."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

import pytest

from teamkeys import cli
from teamkeys.settings import get_settings
from tests.conftest import System

AGENT_PASSWORD = "support desk passphrase"

#: Makes a support agent with ``teamkeys support add-agent`` and signs them in.
AddSupportAgent = Callable[..., dict[str, Any]]


def run_add_agent(
    system: System, email: str, name: str, password: str = AGENT_PASSWORD
) -> int:
    """Run the real CLI command against the test database, password on standard input.

    The CLI reads settings from the environment through the cached ``get_settings``; the
    environment is pointed at the test database for the call only, and the cache emptied
    before and after so no other code sees these settings."""
    settings = system.runtime.settings
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEAMKEYS_DATABASE_URL", settings.database_url)
        # The command sends no job: an in-process broker keeps it off the test's Redis.
        patch.setenv("TEAMKEYS_REDIS_URL", "")
        patch.setenv("TEAMKEYS_DATA_DIR", str(settings.data_dir))
        patch.setenv("TEAMKEYS_ARGON2_TIME_COST", str(settings.argon2_time_cost))
        patch.setenv("TEAMKEYS_ARGON2_MEMORY_KIB", str(settings.argon2_memory_kib))
        patch.setenv("TEAMKEYS_ARGON2_PARALLELISM", str(settings.argon2_parallelism))
        patch.setenv("TEAMKEYS_LOG_LEVEL", "WARNING")
        patch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        get_settings.cache_clear()
        try:
            return cli.main(["support", "add-agent", email, "--name", name])
        finally:
            get_settings.cache_clear()


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
