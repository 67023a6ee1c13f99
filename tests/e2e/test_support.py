"""Support agents: made with the CLI, in no team, able to look at any team but not to change
one, and the only ones who see the email outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from domain.models import Email
from infra.mail.message import message_id_for
from tests.conftest import PASSWORD, System
from tests.e2e.conftest import AddSupportAgent, a_dead_email, run_add_agent
from tests.error_body import assert_error
from tests.support import to, wait_until


def test_support_agent_signs_in_and_belongs_to_no_team(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    sam = add_support_agent(email="  Sam@Support.Teamkeys.test ", name="Sam")

    me = system.http.get("/v1/me", headers=sam["headers"])

    assert me.status_code == 200
    assert me.json()["account"]["email"] == "sam@support.teamkeys.test"
    assert me.json()["account"]["name"] == "Sam"
    assert me.json()["team"] is None
    assert me.json()["role"] is None


def test_an_email_that_has_an_account_cannot_become_a_second_agent(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    add_support_agent(email="sam@support.teamkeys.test")
    ada = system.sign_up("Ada", email="ada@example.com")

    assert run_add_agent(system, "SAM@support.teamkeys.test", "Sam Again") == 1
    assert run_add_agent(system, "Ada@Example.com", "Ada the Agent") == 1

    # Ada is still a customer, in her team.
    assert system.http.get("/v1/me", headers=ada["headers"]).json()["role"] == "owner"


def test_support_agent_can_view_any_team_and_its_members(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    ada = system.sign_up("Ada")
    uma = system.join(ada["team"]["id"], "Uma")
    bob = system.sign_up("Bob")
    sam = add_support_agent()

    for owner, roles in ((ada, [(ada, "owner"), (uma, "user")]), (bob, [(bob, "owner")])):
        team_id = owner["team"]["id"]
        team = system.http.get(f"/v1/teams/{team_id}", headers=sam["headers"])
        assert team.status_code == 200 and team.json()["id"] == team_id
        assert team.json()["name"] == f"{owner['account']['name']}'s Team"
        listed = system.http.get(f"/v1/teams/{team_id}/members", headers=sam["headers"])
        assert listed.status_code == 200
        assert {m["account_id"]: m["role"] for m in listed.json()["items"]} == {
            person["account"]["id"]: role for person, role in roles
        }
    nowhere = system.http.get("/v1/teams/team_doesnotexist", headers=sam["headers"])
    assert_error(nowhere, 404, "not_found")


def test_support_agent_cannot_change_roles_remove_members_or_read_audit_events(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    ada = system.sign_up("Ada")
    team_id = ada["team"]["id"]
    uma = system.join(team_id, "Uma")
    sam = add_support_agent()
    member = f"/v1/teams/{team_id}/members/{uma['account']['id']}"

    assert_error(
        system.http.patch(member, json={"role": "owner"}, headers=sam["headers"]),
        403,
        "not_allowed",
    )
    assert_error(system.http.delete(member, headers=sam["headers"]), 403, "not_allowed")
    assert_error(
        system.http.get(f"/v1/teams/{team_id}/events", headers=sam["headers"]), 403, "not_allowed"
    )
    roles = system.http.get(f"/v1/teams/{team_id}/members", headers=ada["headers"]).json()
    assert {m["account_id"]: m["role"] for m in roles["items"]} == {
        ada["account"]["id"]: "owner",
        uma["account"]["id"]: "user",
    }


def test_customers_cannot_list_support_emails(system: System) -> None:
    ada = system.sign_up("Ada")
    uma = system.join(ada["team"]["id"], "Uma")

    for customer in (ada, uma):
        response = system.http.get("/v1/support/emails", headers=customer["headers"])
        assert_error(response, 403, "not_allowed")
    assert_error(system.http.get("/v1/support/emails"), 401, "unauthenticated")


def sign_up_over_http(system: System, email: str) -> dict[str, Any]:
    response = system.http.post(
        "/v1/signup", json={"email": email, "name": "Someone", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def emails(system: System, agent: dict[str, Any], status: str | None = None) -> list[Any]:
    params = {"status": status} if status else {}
    response = system.http.get("/v1/support/emails", params=params, headers=agent["headers"])
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def test_support_agent_lists_emails_by_status(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    sam = add_support_agent()
    ada = sign_up_over_http(system, "ada@example.com")
    system.sink.wait_for(to("ada@example.com"))
    wait_until(lambda: emails(system, sam, "sent"), what="the verification email marked sent")
    system.sink.refuse_with = (550, "5.1.1 mailbox unavailable")
    bob = sign_up_over_http(system, "bob@example.com")

    failed = wait_until(lambda: emails(system, sam, "failed"), what="a refused email")

    assert [e["to_address"] for e in failed] == ["bob@example.com"]
    assert failed[0]["template"] == "email_verification"
    assert failed[0]["team_id"] == bob["team"]["id"]
    assert "mailbox unavailable" in failed[0]["last_error"]
    assert failed[0]["sent_at"] is None
    sent = emails(system, sam, "sent")
    assert [e["to_address"] for e in sent] == [ada["account"]["email"]]
    assert sent[0]["sent_at"] is not None and sent[0]["attempts"] == 1
    assert emails(system, sam, "dead") == []
    everything = emails(system, sam)
    assert [e["to_address"] for e in everything] == [
        bob["account"]["email"],
        ada["account"]["email"],
    ]
    assert_error(
        system.http.get("/v1/support/emails", params={"status": "lost"}, headers=sam["headers"]),
        422,
        "invalid_request",
    )


def test_support_agent_resends_a_dead_email_and_it_is_delivered_with_the_same_message_id(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    address = a_dead_email(system)
    sam = add_support_agent()
    [dead] = [e for e in emails(system, sam, "dead") if e["to_address"] == address]
    assert dead["template"] == "role_changed" and "421" in dead["last_error"]
    tries = dead["attempts"]

    resent = system.http.post(f"/v1/support/emails/{dead['id']}/resend", headers=sam["headers"])

    assert resent.status_code == 202, resent.text
    assert resent.json()["status"] == "queued"
    message = system.sink.wait_for(to(address))
    sent = wait_until(
        lambda: [e for e in emails(system, sam, "sent") if e["id"] == dead["id"]],
        what="the re-sent email marked sent",
    )
    assert sent[0]["attempts"] == tries + 1 and sent[0]["sent_at"] is not None
    with system.runtime.db.unit_of_work() as uow:
        cause = uow.session.scalars(select(Email.cause).where(Email.id == dead["id"])).one()
    domain = system.runtime.settings.mail_message_id_domain
    assert message["Message-ID"] == message_id_for(cause, domain)
    # Sent now: it cannot be sent again; an unknown email is not found.
    again = system.http.post(f"/v1/support/emails/{dead['id']}/resend", headers=sam["headers"])
    assert_error(again, 409, "email_not_resendable")
    unknown = system.http.post("/v1/support/emails/eml_nope/resend", headers=sam["headers"])
    assert_error(unknown, 404, "no_such_email")


def test_customers_cannot_resend_emails(system: System) -> None:
    ada = system.sign_up("Ada")
    refused = system.http.post("/v1/support/emails/eml_nope/resend", headers=ada["headers"])
    assert_error(refused, 403, "not_allowed")


def test_an_email_with_a_single_use_link_is_not_resent_its_flow_sends_a_new_link(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    sam = add_support_agent()
    system.sink.refuse_with = (550, "5.1.1 mailbox unavailable")
    sign_up_over_http(system, "bob@example.com")
    [failed] = wait_until(lambda: emails(system, sam, "failed"), what="a refused email")
    assert failed["template"] == "email_verification"

    refused = system.http.post(f"/v1/support/emails/{failed['id']}/resend", headers=sam["headers"])

    assert_error(refused, 409, "email_not_resendable")
    assert emails(system, sam, "failed") == [failed]
