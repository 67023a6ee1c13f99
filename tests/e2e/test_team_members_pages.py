"""The members pages refuse on the server what they hide from a user: a user's form posted by
hand gets the API's message and status (403) and changes nothing, an unknown member or
invitation the 404 page, and the API's refusals of bad input show beside the form with 422.
An invitation's row says what became of it: pending while its email waits, expired once its
link's time ran out (before the sweep marks it)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from domain.clock import utcnow
from domain.models import Event, Invitation
from tests.conftest import System
from tests.e2e.test_invitations import invite, status_of
from tests.e2e.test_pages import signed_in as signed_in_on
from tests.support import wait_until
from web.routes import team_members


def signed_in(system: System, person: dict[str, Any]) -> tuple[httpx.Client, str]:
    return signed_in_on(system, person, "/team/members")


def alert(page: str) -> str:
    """The page's error summary: what a refused form is told."""
    found = re.search(r'<div class="error-summary" role="alert"[^>]*>\s*<p>([^<]*)</p>', page)
    return found[1] if found else ""


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
        for refused in (invited, removed, promoted):  # told why, though no control is shown
            assert alert(refused.text).startswith("Your role (user) does not allow this")
        assert client.get("/team/events").status_code == 404
    finally:
        client.close()

    members = system.http.get(
        f"/v1/teams/{olivia['team']['id']}/members", headers=olivia["headers"]
    ).json()["items"]
    assert {m["name"]: m["role"] for m in members} == {"Olivia": "owner", "Uma": "user"}


def invitations_of(system: System, owner: dict[str, Any]) -> list[dict[str, Any]]:
    answer = system.http.get(
        f"/v1/teams/{owner['team']['id']}/invitations", headers=owner["headers"]
    )
    assert answer.status_code == 200
    return list(answer.json()["items"])


def events_of(system: System, owner: dict[str, Any]) -> list[str]:
    answer = system.http.get(f"/v1/teams/{owner['team']['id']}/events", headers=owner["headers"])
    assert answer.status_code == 200
    return [event["action"] for event in answer.json()["items"]]


def test_a_users_resend_and_revoke_are_refused_and_change_nothing(system: System) -> None:
    olivia = system.sign_up("Olivia")
    uma = system.join(olivia["team"]["id"], "Uma")
    invitation = invite(system, olivia, "ivy.members@example.com").json()
    wait_until(
        lambda: status_of(system, olivia, invitation["id"]) == "sent", what="the invitation sent"
    )
    before = invitations_of(system, olivia), events_of(system, olivia), len(system.sink.messages)
    client, token = signed_in(system, uma)
    try:
        assert f"/team/invitations/{invitation['id']}/" not in client.get("/team/members").text
        api = f"/v1/teams/{olivia['team']['id']}/invitations/{invitation['id']}"
        for act, by_api in (
            ("resend", system.http.post(f"{api}/resend", headers=uma["headers"])),
            ("revoke", system.http.delete(api, headers=uma["headers"])),
        ):
            answer = client.post(
                f"/team/invitations/{invitation['id']}/{act}", data={"csrf_token": token}
            )
            assert answer.status_code == by_api.status_code == 403, (act, answer.status_code)
            assert alert(answer.text) == by_api.json()["error"]["message"], act  # shown, as said
    finally:
        client.close()
    after = invitations_of(system, olivia), events_of(system, olivia), len(system.sink.messages)
    assert after == before  # still sent, the same link and expiry; no event, no email


def invitation_row(page: str, invitation_id: str) -> str:
    """The members page's row of one invitation, as HTML."""
    found = re.search(rf'<tr id="invitation-{invitation_id}">.*?</tr>', page, re.S)
    assert found is not None, invitation_id
    return found[0]


def test_an_invitation_shows_pending_until_its_email_is_sent_and_expired_once_its_time_ran_out(
    system: System,
) -> None:
    olivia = system.sign_up("Olivia")
    client, _ = signed_in(system, olivia)
    try:
        with system.jobs_held():  # the email job waits: the invitation stays pending
            invitation = invite(system, olivia, "pat.members@example.com").json()
            row = invitation_row(client.get("/team/members").text, invitation["id"])
            assert '<span class="badge status-pending">Pending</span>' in row
            assert f"/team/invitations/{invitation['id']}/revoke" in row  # still revocable
            assert f"/team/invitations/{invitation['id']}/resend" in row

        def sent() -> bool:
            row = invitation_row(client.get("/team/members").text, invitation["id"])
            return '<span class="badge status-sent">Sent</span>' in row

        wait_until(sent, what="the invitation shown sent")
        with system.runtime.db.unit_of_work() as uow:  # its link's time runs out
            uow.session.execute(
                update(Invitation)
                .where(Invitation.id == invitation["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            uow.commit()
        assert status_of(system, olivia, invitation["id"]) == "sent"  # not swept yet
        row = invitation_row(client.get("/team/members").text, invitation["id"])
        assert '<span class="badge status-expired">Expired</span>' in row
        assert f"/team/invitations/{invitation['id']}/revoke" not in row  # nothing to revoke
        assert f"/team/invitations/{invitation['id']}/resend" in row  # a new link may go
    finally:
        client.close()


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


def test_every_audit_event_is_reachable_however_old(system: System) -> None:
    """Pages go back to the team's first event, past the API's largest ``limit`` (500): no
    window cuts the oldest off."""
    olivia = system.sign_up("Olivia")
    team_id = olivia["team"]["id"]
    per_page = team_members.EVENTS_PER_PAGE
    with system.runtime.db.unit_of_work() as uow:
        start = utcnow()
        uow.session.add_all(
            Event(
                team_id=team_id,
                actor_id=olivia["account"]["id"],
                action=f"test.event_{n:03d}",
                target=team_id,
                details={},
                at=start + timedelta(seconds=n + 1),
            )
            for n in range(520)  # newer than the sign-up's own events
        )
        uow.commit()
        total = uow.session.scalar(select(func.count()).where(Event.team_id == team_id))
    assert total is not None and total > 520
    pages = -(-total // per_page)
    client, _ = signed_in(system, olivia)
    try:
        first = client.get("/team/events")
        assert (
            "test.event_519" in first.text and f"test.event_{519 - per_page:03d}" not in first.text
        )
        last = client.get(f"/team/events?page={pages}")
        assert last.status_code == 200
        assert "team.created" in last.text  # the team's first event
        assert f'href="/team/events?page={pages + 1}"' not in last.text
        assert client.get(f"/team/events?page={pages + 1}").status_code == 404
        assert client.get("/team/events?page=999999").status_code == 404
        # The API pages the same way: its last page holds the team's first event too.
        api = system.http.get(
            f"/v1/teams/{team_id}/events",
            params={"limit": 500, "offset": total - 1},
            headers=olivia["headers"],
        ).json()["items"]
        assert [event["action"] for event in api] == ["team.created"]
        for page in ("\u00b2", "\uff11", "-1", "1.0", ""):  # digits only ASCII ones count
            assert client.get("/team/events", params={"page": page}).status_code == 404, page
    finally:
        client.close()
