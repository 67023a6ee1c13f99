"""The members pages refuse on the server what they hide from a user: a user's form posted by
hand gets the API's message and status (403), an unknown member or invitation the 404 page,
and the API's refusals of bad input show beside the form with 422."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import System
from tests.e2e.test_pages import signed_in as signed_in_on
from web.routes import team_members


def signed_in(system: System, person: dict[str, Any]) -> tuple[httpx.Client, str]:
    return signed_in_on(system, person, "/team/members")


def test_a_users_owner_forms_are_refused_with_the_apis_status(system: System) -> None:
    olivia = system.sign_up("Olivia")
    uma = system.join(olivia["team"]["id"], "Uma")
    client, token = signed_in(system, uma)
    try:
        page = client.get("/team/members")
        assert page.status_code == 200
        assert "/team/members/invite" not in page.text
        assert "/remove" not in page.text

        invited = client.post(
            "/team/members/invite",
            data={"csrf_token": token, "email": "x.members@example.com", "role": "owner"},
        )
        assert invited.status_code == 403, invited.status_code
        removed = client.post(
            f"/team/members/{olivia['account']['id']}/remove", data={"csrf_token": token}
        )
        assert removed.status_code == 403
        promoted = client.post(
            f"/team/members/{uma['account']['id']}/role",
            data={"csrf_token": token, "role": "owner"},
        )
        assert promoted.status_code == 403
        assert client.get("/team/events").status_code == 404
    finally:
        client.close()

    members = system.http.get(
        f"/v1/teams/{olivia['team']['id']}/members", headers=olivia["headers"]
    ).json()["items"]
    assert {m["name"]: m["role"] for m in members} == {"Olivia": "owner", "Uma": "user"}


def test_an_owners_bad_input_and_unknown_things(system: System) -> None:
    olivia = system.sign_up("Olivia")
    client, token = signed_in(system, olivia)
    try:
        bad = client.post(
            "/team/members/invite",
            data={"csrf_token": token, "email": "not an email", "role": "user"},
        )
        assert bad.status_code == 422
        assert re.search(r'id="email-error"', bad.text)
        unknown = client.post("/team/members/acc_nobody/remove", data={"csrf_token": token})
        assert unknown.status_code == 404
        revoked = client.post("/team/invitations/inv_nothing/revoke", data={"csrf_token": token})
        assert revoked.status_code == 404
        assert client.get("/team/events?page=0").status_code == 404
        assert client.get("/team/events").status_code == 200
    finally:
        client.close()


def test_audit_events_come_in_pages_newest_first(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(team_members, "EVENTS_PER_PAGE", 2)
    olivia = system.sign_up("Olivia")
    for name in ("Ann", "Bob"):
        person = system.join(olivia["team"]["id"], name)
        changed = system.http.patch(
            f"/v1/teams/{olivia['team']['id']}/members/{person['account']['id']}",
            json={"role": "owner"},
            headers=olivia["headers"],
        )
        assert changed.status_code == 200
    client, _ = signed_in(system, olivia)
    try:
        first = client.get("/team/events")
        assert first.status_code == 200
        assert first.text.count("member.role_changed") == 2  # the two newest
        assert 'href="/team/events?page=2"' in first.text
        assert "?page=0" not in first.text
        second = client.get("/team/events?page=2")
        assert second.status_code == 200
        assert "team.created" in second.text
        assert "member.role_changed" not in second.text
        assert 'href="/team/events?page=1"' in second.text
        assert client.get("/team/events?page=3").status_code == 404
    finally:
        client.close()
