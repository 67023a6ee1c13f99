"""What the web console's forms share with the API, seen over HTTP: the same limits, answered
the same way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.settings import Settings
from tests.conftest import System, running_system
from tests.faulty_sink import FaultySink

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def page_client(system: System) -> tuple[httpx.Client, str]:
    """A client holding a browser cookie, and the form token of the page it was given with."""
    client = httpx.Client(base_url=str(system.http.base_url), follow_redirects=False)
    answer = client.get("/sign-in")
    cookie = re.search(r"__Host-tk_browser=([^;]+)", answer.headers["set-cookie"])
    token = TOKEN.search(answer.text)
    assert cookie is not None and token is not None
    client.cookies.set("__Host-tk_browser", cookie[1])  # Secure (https public URL): set by hand
    return client, token[1]


@pytest.fixture
def limited(settings: Settings, sink: FaultySink) -> Iterator[System]:
    tight = settings.model_copy(update={"limit_sign_in_per_email_ip": "3/15 minutes"})
    with running_system(tight, sink) as running:
        yield running


def signed_in(system: System, person: dict[str, Any], page: str) -> tuple[httpx.Client, str]:
    """A browser holding ``person``'s page session, and the form token of ``page`` for it."""
    client, _ = page_client(system)
    client.cookies.set("__Host-tk_session", person["token"])
    found = TOKEN.search(client.get(page).text)
    assert found is not None
    return client, found[1]


def test_the_sign_in_form_meets_the_apis_limit_with_retry_after(limited: System) -> None:
    ada = limited.sign_up("Ada")
    client, token = page_client(limited)
    try:
        for _ in range(5):
            answer = client.post(
                "/sign-in",
                data={"csrf_token": token, "email": ada["account"]["email"], "password": "no"},
            )
            if answer.status_code != 401:
                break
        assert answer.status_code == 429, answer.status_code
        assert 0 < int(answer.headers["Retry-After"]) <= 15 * 60
        assert "Too many" in answer.text or "too many" in answer.text
    finally:
        client.close()


def test_an_id_holding_a_nul_is_no_page(system: System) -> None:
    """PostgreSQL refuses NUL in text: a page whose address holds one is a 404, not a 500."""
    for path in ("/team/keys/key_x%00/row", "/support/migration-tickets/mig_%00"):
        answer = system.http.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
