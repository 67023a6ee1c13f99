"""The usage and Go to Production pages over HTTP: what a browser test cannot easily see (the
CSV's headers and cells, a user's posted application refused by the server, every count in
the words beside it)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import System
from tests.e2e.test_invoices import use
from tests.e2e.test_pages import signed_in as signed_in_on
from tests.support import PRODUCTION_FORM


def signed_in(system: System, person: dict[str, Any]) -> tuple[httpx.Client, str]:
    return signed_in_on(system, person, "/team/production")


def test_the_csv_has_a_header_and_spreadsheet_safe_cells(system: System) -> None:
    owner = system.sign_up("Olive")
    secret = system.key_secret(owner)
    for request_id, model in (("r1", "=HYPERLINK(1)"), ("r2", "gpt-x")):
        answer = system.http.post(
            "/v1/usage",
            json={"id": request_id, "model": model, "input_tokens": 3, "output_tokens": 4},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert answer.status_code == 202, answer.text
    client, _ = signed_in(system, owner)
    try:
        answer = client.get("/team/usage.csv")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["content-disposition"].startswith("attachment;")
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[0] == ["date", "model", "key_kind", "calls", "input_tokens", "output_tokens"]
        assert sorted(r[1] for r in rows[1:]) == ["'=HYPERLINK(1)", "gpt-x"]
        assert all(r[2:] == ["trial", "1", "3", "4"] for r in rows[1:])
        refused = client.get("/team/usage.csv", params={"from": "2026-02-01", "to": "2026-01-01"})
        assert refused.status_code == 422 and "end is before start." in refused.text
        assert client.get("/team/usage.csv", params={"to": "soon"}).status_code == 422
        assert client.get("/team/usage", params={"from": "1999-12-31"}).status_code == 422
    finally:
        client.close()


def test_a_users_application_is_refused_by_the_server_as_by_the_api(system: System) -> None:
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    client, token = signed_in(system, user)
    try:
        answer = client.post(
            "/team/production",
            data={"csrf_token": token, "accept_terms": "yes"}
            | {k: str(v) for k, v in PRODUCTION_FORM.items()},
        )
        assert answer.status_code == 403, answer.text
        assert re.search(r'role="alert"', answer.text)
        assert "Submit the application" not in answer.text  # still no form for a user
    finally:
        client.close()
    status = system.http.get(
        f"/v1/teams/{owner['team']['id']}/production-application", headers=owner["headers"]
    ).json()
    assert status["status"] == "none"


#: A count of one with a plural noun: "1 calls", "1 members".
ONE_WITH_A_PLURAL = re.compile(r"(?<![\d,.])1 (?:input |output )?(?:calls|tokens|members|days)\b")


def test_every_count_meets_its_noun_in_the_right_number(system: System) -> None:
    owner = system.sign_up("Olive")
    secret = system.key_secret(owner)
    now = datetime.now(UTC)
    client, _ = signed_in(system, owner)
    try:
        use(system, secret, "one", "gpt-x", 1, 0, now)
        one = client.get("/team/usage").text
        assert "1 call, 1 input token and 0 output tokens from" in one
        assert f"{now.date()}: gpt-x · trial, 1 call</title>" in one  # the bar's tooltip
        assert "1 call in all over 1 day with usage; the busiest day had 1 call." in one
        assert "1 token in all over 1 day with usage; the busiest day had 1 token." in one
        assert "1 member of" in client.get("/team/members").text
        assert not ONE_WITH_A_PLURAL.search(one), ONE_WITH_A_PLURAL.search(one)

        use(system, secret, "two", "gpt-x", 1_000, 1, now)
        system.join(owner["team"]["id"], "Uma")
        two = client.get("/team/usage").text
        assert "2 calls, 1,001 input tokens and 1 output token from" in two
        assert f"{now.date()}: gpt-x · trial, 1,002 tokens</title>" in two
        assert "2 calls in all over 1 day with usage; the busiest day had 2 calls." in two
        assert "2 members of" in client.get("/team/members").text
        assert not ONE_WITH_A_PLURAL.search(two), ONE_WITH_A_PLURAL.search(two)
    finally:
        client.close()
