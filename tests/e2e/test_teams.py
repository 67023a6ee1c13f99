"""Team and members over HTTP: viewing, role changes, removal, leaving, their emails and the
audit trail (docs/product.md "Who may do what" and "Teams and members"). The rules'
refusals one by one, on a database session, are in tests/rules/test_teams.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import select

from domain.models import Email
from tests.conftest import System
from tests.error_body import assert_error
from tests.support import html_body, text_body, to, wait_until

FOOTER = "You received this email because"


def about(address: str, template: str) -> Callable[[EmailMessage], bool]:
    """Matches the email made from ``template`` for ``address``."""
    return lambda message: to(address)(message) and message["X-Teamkeys-Email"] == template


def recipients(system: System, template: str) -> list[str]:
    """Who the system decided to email with ``template`` (rows commit with the change)."""
    with system.runtime.db.unit_of_work() as uow:
        return sorted(
            uow.session.scalars(select(Email.to_address).where(Email.template == template))
        )


def told(
    system: System, template: str, member: dict[str, Any], owner: dict[str, Any]
) -> tuple[EmailMessage, EmailMessage]:
    """The ``template`` emails to the member and to the owner, once they arrived: the only two
    the system decided to send."""
    addresses = [p["account"]["email"] for p in (member, owner)]
    assert recipients(system, template) == sorted(addresses)
    emails = [system.sink.wait_for(about(address, template)) for address in addresses]
    return emails[0], emails[1]


def all_sent(system: System) -> bool:
    with system.runtime.db.unit_of_work() as uow:
        return not list(uow.session.scalars(select(Email.id).where(Email.status != "sent")))


def member_roles(system: System, team_id: str, headers: dict[str, str]) -> dict[str, str]:
    response = system.http.get(f"/v1/teams/{team_id}/members", headers=headers)
    assert response.status_code == 200, response.text
    return {item["account_id"]: item["role"] for item in response.json()["items"]}


def patch_role(
    system: System, team_id: str, member: dict[str, Any], role: str, by: dict[str, Any]
) -> httpx.Response:
    return system.http.patch(
        f"/v1/teams/{team_id}/members/{member['account']['id']}",
        json={"role": role},
        headers=by["headers"],
    )


def remove(
    system: System, team_id: str, member: dict[str, Any], by: dict[str, Any]
) -> httpx.Response:
    return system.http.delete(
        f"/v1/teams/{team_id}/members/{member['account']['id']}", headers=by["headers"]
    )


# -- viewing -----------------------------------------------------------------------------------


def test_member_can_view_team_and_members(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    uma = system.join(team_id, "Uma")

    team = system.http.get(f"/v1/teams/{team_id}", headers=uma["headers"])
    assert team.status_code == 200
    assert team.json()["id"] == team_id
    assert team.json()["name"] == "Ada's Team"
    assert team.json()["production_status"] == "none"
    datetime.fromisoformat(team.json()["created_at"])

    members = system.http.get(f"/v1/teams/{team_id}/members", headers=uma["headers"])
    assert members.status_code == 200
    by_id = {item["account_id"]: item for item in members.json()["items"]}
    assert set(by_id) == {ada["account"]["id"], uma["account"]["id"]}
    assert by_id[ada["account"]["id"]]["role"] == "owner"
    assert by_id[uma["account"]["id"]]["role"] == "user"
    assert by_id[uma["account"]["id"]]["email"] == uma["account"]["email"]
    assert by_id[uma["account"]["id"]]["name"] == "Uma"
    datetime.fromisoformat(by_id[uma["account"]["id"]]["joined_at"])


def test_outsider_gets_404_and_cannot_tell_the_team_exists(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    mallory = system.sign_up("Mallory")
    nowhere = "team_00000000000000000000000000000000"

    for path in ("", "/members", "/events"):
        real = system.http.get(f"/v1/teams/{team_id}{path}", headers=mallory["headers"])
        fake = system.http.get(f"/v1/teams/{nowhere}{path}", headers=mallory["headers"])
        assert_error(real, 404, "not_found")
        assert real.json() == fake.json()

    target = f"/v1/teams/{team_id}/members/{ada['account']['id']}"
    assert_error(system.http.patch(target, json={"role": "user"}, headers=mallory["headers"]), 404)
    assert_error(system.http.delete(target, headers=mallory["headers"]), 404)
    assert member_roles(system, team_id, ada["headers"]) == {ada["account"]["id"]: "owner"}


# -- role changes ------------------------------------------------------------------------------


def test_owner_can_promote_a_user_to_owner(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    uma = system.join(team_id, "Uma")

    response = patch_role(system, team_id, uma, "owner", by=ada)

    assert response.status_code == 200, response.text
    assert response.json()["account_id"] == uma["account"]["id"]
    assert response.json()["role"] == "owner"
    assert member_roles(system, team_id, ada["headers"])[uma["account"]["id"]] == "owner"
    assert system.http.get("/v1/me", headers=uma["headers"]).json()["role"] == "owner"


def test_invalid_role_is_refused_with_422(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    uma = system.join(team_id, "Uma")

    for role in ("admin", "OWNER", "", None, 1):
        response = system.http.patch(
            f"/v1/teams/{team_id}/members/{uma['account']['id']}",
            json={"role": role},
            headers=ada["headers"],
        )
        assert_error(response, 422, "invalid_request")

    assert member_roles(system, team_id, ada["headers"])[uma["account"]["id"]] == "user"


def test_last_owner_cannot_be_demoted(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    system.join(team_id, "Uma")

    assert_error(patch_role(system, team_id, ada, "user", by=ada), 409, "last_owner")

    assert member_roles(system, team_id, ada["headers"])[ada["account"]["id"]] == "owner"


def test_role_change_emails_the_member_and_other_owners_but_not_the_acting_owner(
    system: System,
) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    cy = system.join(team_id, "Cy", role="owner")
    uma = system.join(team_id, "Uma")
    assert patch_role(system, team_id, uma, "owner", by=ada).status_code == 200

    member_email, owner_email = told(system, "role_changed", uma, cy)
    assert member_email["Subject"] == "Your role in Ada's Team is now owner"
    text = text_body(member_email)
    assert "Your role in Ada's Team is now owner (it was user). Ada made this change." in text
    assert FOOTER in text and "your membership of Ada's Team" in text
    assert "Ada&#39;s Team" in html_body(member_email) or "Ada&#x27;s Team" in html_body(
        member_email
    )
    assert owner_email["Subject"] == "Uma is now owner in Ada's Team"
    text = text_body(owner_email)
    assert "Ada changed Uma's role in Ada's Team from user to owner." in text
    assert uma["account"]["email"] in text
    assert FOOTER in text and "you are an owner of Ada's Team" in text
    assert member_email["Message-ID"] != owner_email["Message-ID"]
    wait_until(lambda: all_sent(system), what="every email sent")
    assert system.sink.count(about(ada["account"]["email"], "role_changed")) == 0


# -- removal and leaving -----------------------------------------------------------------------


def test_owner_removes_a_user_who_then_owns_a_fresh_personal_team(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    cy = system.join(team_id, "Cy", role="owner")
    vic = system.join(team_id, "Vic")

    response = remove(system, team_id, vic, by=ada)

    assert response.status_code == 204 and response.content == b""
    assert vic["account"]["id"] not in member_roles(system, team_id, ada["headers"])
    me = system.http.get("/v1/me", headers=vic["headers"]).json()
    assert me["role"] == "owner"
    assert me["team"]["name"] == "Vic's Team" and me["team"]["id"] != team_id
    assert member_roles(system, me["team"]["id"], vic["headers"]) == {vic["account"]["id"]: "owner"}
    assert_error(system.http.get(f"/v1/teams/{team_id}", headers=vic["headers"]), 404)

    member_email, owner_email = told(system, "member_removed", vic, cy)
    assert member_email["Subject"] == "You were removed from Ada's Team"
    text = text_body(member_email)
    assert "Ada removed you from Ada's Team." in text
    assert "You now own a personal team, Vic's Team." in text
    assert FOOTER in text
    assert owner_email["Subject"] == "Vic was removed from Ada's Team"
    assert f"Ada removed Vic <{vic['account']['email']}> from Ada's Team." in text_body(owner_email)
    assert FOOTER in text_body(owner_email)


def test_user_can_leave_and_then_owns_a_fresh_personal_team(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    uma = system.join(team_id, "Uma")

    response = remove(system, team_id, uma, by=uma)

    assert response.status_code == 204
    assert member_roles(system, team_id, ada["headers"]) == {ada["account"]["id"]: "owner"}
    me = system.http.get("/v1/me", headers=uma["headers"]).json()
    assert me["role"] == "owner"
    assert me["team"]["name"] == "Uma's Team" and me["team"]["id"] != team_id

    member_email, owner_email = told(system, "member_removed", uma, ada)
    assert member_email["Subject"] == "You left Ada's Team"
    assert "You now own a personal team, Uma's Team." in text_body(member_email)
    assert owner_email["Subject"] == "Uma left Ada's Team"
    assert FOOTER in text_body(owner_email)


# -- audit events ------------------------------------------------------------------------------


def test_owner_sees_the_audit_trail_newest_first(system: System) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    uma = system.join(team_id, "Uma")
    vic = system.join(team_id, "Vic")
    wes = system.join(team_id, "Wes")
    assert patch_role(system, team_id, uma, "owner", by=ada).status_code == 200
    assert remove(system, team_id, vic, by=ada).status_code == 204
    assert remove(system, team_id, wes, by=wes).status_code == 204

    response = system.http.get(f"/v1/teams/{team_id}/events", headers=ada["headers"])

    assert response.status_code == 200
    items = response.json()["items"]
    assert [e["action"] for e in items] == [
        "member.left",
        "member.removed",
        "member.role_changed",
        "team.created",
    ]
    times = [datetime.fromisoformat(e["at"]) for e in items]
    assert times == sorted(times, reverse=True)
    assert all(set(e) >= {"id", "at", "actor_id", "action", "target", "details"} for e in items)
    left, removed, changed, created = items
    assert (left["actor_id"], left["target"]) == (wes["account"]["id"], wes["account"]["id"])
    assert left["details"]["role"] == "user"
    assert (removed["actor_id"], removed["target"]) == (ada["account"]["id"], vic["account"]["id"])
    assert removed["details"]["role"] == "user"
    assert (changed["actor_id"], changed["target"]) == (ada["account"]["id"], uma["account"]["id"])
    assert changed["details"] == {"from": "user", "to": "owner"}
    assert (created["actor_id"], created["target"]) == (ada["account"]["id"], team_id)


def test_user_cannot_view_audit_events(system: System) -> None:
    ada = system.sign_up("Ada")
    uma = system.join(ada["team"]["id"], "Uma")

    response = system.http.get(f"/v1/teams/{ada['team']['id']}/events", headers=uma["headers"])

    assert_error(response, 403, "not_allowed")


def test_outsider_cannot_view_audit_events(system: System) -> None:
    ada = system.sign_up("Ada")
    mallory = system.sign_up("Mallory")

    response = system.http.get(f"/v1/teams/{ada['team']['id']}/events", headers=mallory["headers"])

    assert_error(response, 404, "not_found")
