"""Invitations end to end: over HTTP, through the worker, with the link read out of the email.
Who cannot be invited, and the daily limit's rule, on a database session in
tests/rules/test_invitations.py; here only the limit's answer over HTTP (429, Retry-After)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from domain.clock import utcnow
from domain.models import Invitation
from infra.mail.errors import UnknownTemplate
from infra.mail.render import RenderedEmail
from infra.settings import Settings
from tests.conftest import System, running_system
from tests.e2e.conftest import AddSupportAgent, dead_emails
from tests.error_body import assert_error
from tests.faulty_sink import FaultySink
from tests.support import html_body, text_body, to, wait_until
from workers.scheduler import sweep_invitations

LINK = re.compile(r"https://app\.teamkeys\.test/invitations/(inv_[A-Za-z0-9_\-]+)")
PASSWORD = "correct horse battery"


def invite(system: System, owner: dict[str, Any], email: str, role: str = "user") -> httpx.Response:
    return system.http.post(
        f"/v1/teams/{owner['team']['id']}/invitations",
        json={"email": email, "role": role},
        headers=owner["headers"],
    )


def token_in(message: EmailMessage) -> str:
    found = LINK.search(text_body(message))
    assert found, text_body(message)
    return found.group(1)


def received_invitations(system: System, email: str) -> list[EmailMessage]:
    return [m for m in system.sink.messages if to(email)(m) and "invited you" in m["Subject"]]


def wait_for_invitation(system: System, email: str, count: int = 1) -> str:
    """The token of the ``count``-th invitation email to ``email``."""
    messages = wait_until(
        lambda: received_invitations(system, email)[count - 1 :],
        what=f"invitation email #{count} to {email}",
    )
    return token_in(messages[0])


def accept(system: System, token: str, name: str = "Bob") -> httpx.Response:
    return system.http.post(
        "/v1/invitations/accept", json={"token": token, "name": name, "password": PASSWORD}
    )


def invite_bob_until(system: System, status: str) -> dict[str, Any]:
    """Olive signs up and invites Bob; the invitation once it reached ``status``."""
    owner = system.sign_up("Olive")
    invitation: dict[str, Any] = invite(system, owner, "bob@example.com").json()
    wait_until(
        lambda: status_of(system, owner, invitation["id"]) == status,
        what=f"the invitation {status}",
    )
    return invitation


def status_of(system: System, owner: dict[str, Any], invitation_id: str) -> str:
    items = system.http.get(
        f"/v1/teams/{owner['team']['id']}/invitations", headers=owner["headers"]
    ).json()["items"]
    [item] = [i for i in items if i["id"] == invitation_id]
    return str(item["status"])


def test_an_invited_person_accepts_from_the_emailed_link(system: System) -> None:
    owner = system.sign_up("Carol")
    response = invite(system, owner, "Bob@Example.com", role="owner")
    assert response.status_code == 202
    invitation = response.json()
    assert invitation["email"] == "bob@example.com" and invitation["status"] == "pending"

    message = system.sink.wait_for(to("bob@example.com"))
    text, html = text_body(message), html_body(message)
    assert message["Subject"] == "Carol invited you to join Carol's Team on teamkeys"
    assert "as an owner" in text and "expires on" in text
    assert "You received this email because Carol" in text
    token = token_in(message)
    assert f"/invitations/{token}" in html
    assert message.get_content_type() == "multipart/alternative"
    wait_until(lambda: status_of(system, owner, invitation["id"]) == "sent", what="sent")

    preview = system.http.get(f"/v1/invitations/{token}")
    assert preview.status_code == 200
    assert preview.json() | {"expires_at": None} == {
        "team_name": "Carol's Team",
        "inviter_name": "Carol",
        "email": "bob@example.com",
        "role": "owner",
        "expires_at": None,
    }

    accepted = accept(system, token)
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["team"]["id"] == owner["team"]["id"] and body["role"] == "owner"
    me = system.http.get("/v1/me", headers={"Authorization": f"Bearer {body['token']}"}).json()
    assert me["team"]["id"] == owner["team"]["id"] and me["role"] == "owner"

    joined = system.sink.wait_for(
        lambda m: to(owner["account"]["email"])(m) and "joined" in m["Subject"]
    )
    assert "Bob (bob@example.com) accepted your invitation" in text_body(joined)
    assert status_of(system, owner, invitation["id"]) == "accepted"
    # Single use.
    assert accept(system, token, name="Mallory").status_code == 410
    assert system.http.get(f"/v1/invitations/{token}").status_code == 410
    events = system.http.get(
        f"/v1/teams/{owner['team']['id']}/events", headers=owner["headers"]
    ).json()["items"]
    actions = [e["action"] for e in events]
    assert actions.index("invitation.accepted") < actions.index("invitation.created")


def test_only_owners_invite_and_outsiders_see_nothing(system: System) -> None:
    owner = system.sign_up("Carol")
    user = system.join(owner["team"]["id"], "Uma", role="user")
    outsider = system.sign_up("Olga")
    refused = invite(system, user | {"team": owner["team"]}, "x@example.com")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_allowed"
    hidden = invite(system, outsider | {"team": owner["team"]}, "x@example.com")
    assert hidden.status_code == 404
    # Members (users too) may list the team's invitations; outsiders may not.
    assert invite(system, owner, "x@example.com").status_code == 202
    team = owner["team"]["id"]
    listed = system.http.get(f"/v1/teams/{team}/invitations", headers=user["headers"])
    assert [i["email"] for i in listed.json()["items"]] == ["x@example.com"]
    assert (
        system.http.get(f"/v1/teams/{team}/invitations", headers=outsider["headers"]).status_code
        == 404
    )


def test_bad_email_or_role_is_422(system: System) -> None:
    owner = system.sign_up("Carol")
    for body in (
        {"email": "not-an-email", "role": "user"},
        {"email": "a@example.com", "role": "admin"},
        {"email": "a@example.com"},
    ):
        response = system.http.post(
            f"/v1/teams/{owner['team']['id']}/invitations", json=body, headers=owner["headers"]
        )
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"


def test_inviting_again_rotates_the_link_and_keeps_one_invitation(system: System) -> None:
    owner = system.sign_up("Carol")
    first = invite(system, owner, "bob@example.com").json()
    old_token = wait_for_invitation(system, "bob@example.com")
    second = invite(system, owner, "BOB@example.com", role="owner").json()
    assert second["id"] == first["id"] and second["expires_at"] > first["expires_at"]
    new_token = wait_for_invitation(system, "bob@example.com", count=2)

    assert new_token != old_token
    assert system.http.get(f"/v1/invitations/{old_token}").status_code == 410
    assert accept(system, old_token).status_code == 410
    listed = system.http.get(
        f"/v1/teams/{owner['team']['id']}/invitations", headers=owner["headers"]
    ).json()["items"]
    assert len(listed) == 1 and listed[0]["role"] == "owner"
    assert accept(system, new_token).json()["role"] == "owner"


def test_resend_sends_a_new_link_and_kills_the_old_one(system: System) -> None:
    owner = system.sign_up("Carol")
    invitation = invite(system, owner, "bob@example.com").json()
    old_token = wait_for_invitation(system, "bob@example.com")
    resent = system.http.post(
        f"/v1/teams/{owner['team']['id']}/invitations/{invitation['id']}/resend",
        headers=owner["headers"],
    )
    assert resent.status_code == 202
    new_token = wait_for_invitation(system, "bob@example.com", count=2)
    assert system.http.get(f"/v1/invitations/{old_token}").status_code == 410
    assert system.http.get(f"/v1/invitations/{new_token}").status_code == 200


def test_a_revoked_invitation_cannot_be_used_or_resent(system: System) -> None:
    owner = system.sign_up("Carol")
    team = owner["team"]["id"]
    invitation = invite(system, owner, "bob@example.com").json()
    token = wait_for_invitation(system, "bob@example.com")
    revoked = system.http.delete(
        f"/v1/teams/{team}/invitations/{invitation['id']}", headers=owner["headers"]
    )
    assert revoked.status_code == 204
    assert accept(system, token).status_code == 410
    assert status_of(system, owner, invitation["id"]) == "revoked"
    resend = system.http.post(
        f"/v1/teams/{team}/invitations/{invitation['id']}/resend", headers=owner["headers"]
    )
    assert resend.status_code == 409
    # Inviting the email again is the way back.
    assert invite(system, owner, "bob@example.com").status_code == 202
    assert accept(system, wait_for_invitation(system, "bob@example.com", 2)).status_code == 201


def test_expired_invitations_are_410_and_swept_to_expired(system: System) -> None:
    owner = system.sign_up("Carol")
    invitation = invite(system, owner, "bob@example.com").json()
    token = wait_for_invitation(system, "bob@example.com")
    # The job records delivery just after the server took the email; the sweep skips rows
    # a job holds, so let the job finish first.
    wait_until(lambda: status_of(system, owner, invitation["id"]) == "sent", what="sent")
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        uow.commit()

    gone = system.http.get(f"/v1/invitations/{token}")
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "invitation_expired"
    assert sweep_invitations(system.runtime) == 1
    assert status_of(system, owner, invitation["id"]) == "expired"
    assert accept(system, token).status_code == 410
    events = system.http.get(
        f"/v1/teams/{owner['team']['id']}/events", headers=owner["headers"]
    ).json()["items"]
    assert events[0]["action"] == "invitation.expired"


def test_an_invitation_whose_inviter_is_no_longer_owner_is_410(system: System) -> None:
    owner = system.sign_up("Carol")
    co_owner = system.join(owner["team"]["id"], "Dan", role="owner")
    invite(system, owner, "bob@example.com")
    token = wait_for_invitation(system, "bob@example.com")
    demoted = system.http.patch(
        f"/v1/teams/{owner['team']['id']}/members/{owner['account']['id']}",
        json={"role": "user"},
        headers=co_owner["headers"],
    )
    assert demoted.status_code == 200
    refused = accept(system, token)
    assert refused.status_code == 410 and refused.json()["error"]["code"] == "inviter_not_owner"


def test_the_job_rechecks_the_inviter_and_records_failure(system: System) -> None:
    owner = system.sign_up("Carol")
    co_owner = system.join(owner["team"]["id"], "Dan", role="owner")
    system.sink.refuse_with = (451, "4.3.0 try again later")  # the first attempt fails
    invitation = invite(system, owner, "bob@example.com").json()
    wait_until(
        lambda: any(
            e.template == "invitation" and "451" in (e.last_error or "") for e in _emails(system)
        ),
        what="a first failed attempt",
    )
    system.http.patch(
        f"/v1/teams/{owner['team']['id']}/members/{owner['account']['id']}",
        json={"role": "user"},
        headers=co_owner["headers"],
    )
    system.sink.refuse_with = None

    wait_until(
        lambda: status_of(system, co_owner | {"team": owner["team"]}, invitation["id"]) == "failed",
        what="the invitation to fail",
    )
    [item] = system.http.get(
        f"/v1/teams/{owner['team']['id']}/invitations", headers=co_owner["headers"]
    ).json()["items"]
    assert "no longer an owner" in item["failure_reason"]
    assert received_invitations(system, "bob@example.com") == []


def _emails(system: System) -> list[Any]:
    from sqlalchemy import select

    from domain.models import Email

    with system.runtime.db.unit_of_work() as uow:
        return list(uow.session.scalars(select(Email)))


def test_an_account_made_after_the_invitation_cannot_accept_it(system: System) -> None:
    owner = system.sign_up("Carol")
    invite(system, owner, "bob@example.com")
    token = wait_for_invitation(system, "bob@example.com")
    system.sign_up("Bob", email="bob@example.com")  # signs up on their own meanwhile
    refused = accept(system, token)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "account_exists"


@pytest.fixture
def one_invitation_a_day(settings: Settings, sink: FaultySink) -> Iterator[System]:
    with running_system(settings.model_copy(update={"invitation_daily_limit": 1}), sink) as running:
        yield running


def test_the_daily_limit_answers_429_with_retry_after(one_invitation_a_day: System) -> None:
    system = one_invitation_a_day
    owner = system.sign_up("Carol")
    assert invite(system, owner, "p1@example.com").status_code == 202
    over = invite(system, owner, "p2@example.com")
    assert_error(over, 429, "invitation_limit")
    assert int(over.headers["Retry-After"]) > 0


def test_two_concurrent_accepts_of_one_link_make_one_account(system: System) -> None:
    owner = system.sign_up("Carol")
    invite(system, owner, "bob@example.com")
    token = wait_for_invitation(system, "bob@example.com")
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def accept_now(name: str) -> None:
        with httpx.Client(base_url=system.http.base_url, timeout=30) as client:
            barrier.wait()
            answers.append(
                client.post(
                    "/v1/invitations/accept",
                    json={"token": token, "name": name, "password": PASSWORD},
                ).status_code
            )

    threads = [threading.Thread(target=accept_now, args=(n,)) for n in ("Bob", "Robert")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) in ([201, 409], [201, 410])
    members = system.http.get(
        f"/v1/teams/{owner['team']['id']}/members", headers=owner["headers"]
    ).json()["items"]
    assert [m["email"] for m in members].count("bob@example.com") == 1


def test_a_job_run_again_after_sending_keeps_the_same_working_link(system: System) -> None:
    """A worker that dies after the mail server took the email, before recording it, is run
    again: the email is not sent twice and the link in it still works."""
    from domain.models import Job, JobStatus

    owner = system.sign_up("Carol")
    invitation = invite(system, owner, "bob@example.com").json()
    token = wait_for_invitation(system, "bob@example.com")
    wait_until(lambda: status_of(system, owner, invitation["id"]) == "sent", what="sent")
    with system.runtime.db.unit_of_work() as uow:
        # As if the worker had died before recording delivery: the job is pending again.
        uow.session.execute(update(Invitation).values(status="pending", sent_at=None))
        uow.session.execute(
            update(Job)
            .where(Job.name == "send_invitation")
            .values(status=JobStatus.PENDING, lease_until=None, started_at=None)
        )
        uow.commit()
    wait_until(
        lambda: status_of(system, owner, invitation["id"]) == "sent",
        what="the re-run to record delivery",
    )
    assert len(received_invitations(system, "bob@example.com")) == 1
    assert system.http.get(f"/v1/invitations/{token}").status_code == 200
    assert accept(system, token).status_code == 201


def test_an_invitation_the_mail_server_refuses_is_failed_with_the_reason(system: System) -> None:
    owner = system.sign_up("Carol")
    system.sink.refuse_with = (550, "5.1.1 no such mailbox")
    invitation = invite(system, owner, "nobody@example.com").json()

    wait_until(
        lambda: status_of(system, owner, invitation["id"]) == "failed",
        what="the invitation to fail",
    )
    [item] = system.http.get(
        f"/v1/teams/{owner['team']['id']}/invitations", headers=owner["headers"]
    ).json()["items"]
    assert "550" in item["failure_reason"]
    events = system.http.get(
        f"/v1/teams/{owner['team']['id']}/events", headers=owner["headers"]
    ).json()["items"]
    assert events[0]["action"] == "invitation.failed"


def test_the_access_log_names_the_route_never_the_token_in_the_path(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="teamkeys.access")
    owner = system.sign_up("Olive")
    assert invite(system, owner, "bob@example.com").status_code == 202
    token = wait_for_invitation(system, "bob@example.com")

    assert system.http.get(f"/v1/invitations/{token}").status_code == 200
    assert system.http.get("/v1/invitations/inv_not-a-real-token").status_code == 410
    assert system.http.get("/v1/nowhere").status_code == 404

    def access_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "teamkeys.access"]

    # A request's line is written once its answer has gone out, so the client may be first.
    wait_until(lambda: len(access_lines()) >= 4, what="the access log lines of four requests")
    lines = access_lines()
    assert token not in caplog.text and "inv_not-a-real-token" not in caplog.text
    assert any(
        re.fullmatch(r"GET /v1/invitations/\{token\} -> 200 in [\d.]+ ms", line) for line in lines
    ), lines
    assert any(line.startswith("GET /v1/invitations/{token} -> 410") for line in lines), lines
    assert any(line.startswith("POST /v1/teams/{team_id}/invitations -> 202") for line in lines)
    assert any(line.startswith("GET (no route) -> 404") for line in lines), lines


def test_an_invitation_email_that_cannot_be_rendered_is_dead_where_support_sees_it(
    system: System, add_support_agent: AddSupportAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template that does not render (a bug) ends the job at once: the invitation is
    ``failed`` and its email, made before rendering, is ``dead`` with the reason."""
    renderer = system.runtime.worker_context.renderer
    render = renderer.render

    def broken(template: str, context: Mapping[str, Any]) -> RenderedEmail:
        if template == "invitation":
            raise UnknownTemplate("invitation: no such template (a broken deployment)")
        return render(template, context)

    monkeypatch.setattr(renderer, "render", broken)
    invite_bob_until(system, "failed")

    [item] = [i for i in dead_emails(system, add_support_agent) if i["template"] == "invitation"]
    assert item["to_address"] == "bob@example.com"
    assert "broken deployment" in item["last_error"]
    assert not received_invitations(system, "bob@example.com")


def test_a_failure_recording_the_delivery_does_not_send_the_invitation_again(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server took the email, then recording it on the invitation failed (a deadlock, say):
    the email's ``sent`` stands, so the retry only records it, and Bob gets one email."""
    from domain.invitations import SENDING, Round, record_delivery
    from domain.models import EmailStatus

    failures: list[str] = []

    def fails_once(session: Any, round_: Round, status: EmailStatus) -> None:
        if not failures:
            failures.append(round_.invitation_id)
            raise RuntimeError("deadlock detected")
        record_delivery(session, round_, status)

    monkeypatch.setattr(SENDING, "record", fails_once)
    invitation = invite_bob_until(system, "sent")
    assert failures == [invitation["id"]]
    assert len(received_invitations(system, "bob@example.com")) == 1
