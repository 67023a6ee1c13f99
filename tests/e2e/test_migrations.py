"""Account migration tickets end to end: over HTTP, through the consent and migration jobs, with
the consent link read out of the email and every outcome email read back from SMTP. Approving
twice and each of the migration job's re-checks, on a database session, are in
tests/rules/test_migration_tickets.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from domain.clock import utcnow
from domain.models import (
    ApiKey,
    Event,
    MigrationTicket,
    Team,
)
from infra.settings import Settings
from tests.conftest import System, running_system
from tests.e2e.conftest import AddSupportAgent
from tests.error_body import assert_error
from tests.faulty_sink import FaultySink
from tests.support import html_body, text_body, to, wait_until
from workers.scheduler import sweep_migration_tickets

LINK = re.compile(r"https://app\.teamkeys\.test/migration-consents/(mct_[A-Za-z0-9_\-]+)")
Person = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------


def tickets_url(owner: Person, ticket_id: str = "") -> str:
    return f"/v1/teams/{owner['team']['id']}/migration-tickets" + (
        f"/{ticket_id}" if ticket_id else ""
    )


def open_ticket(
    system: System, owner: Person, email: str, role: str = "user", note: str = "our new lead"
) -> httpx.Response:
    return system.http.post(
        tickets_url(owner),
        json={"email": email, "role": role, "note": note},
        headers=owner["headers"],
    )


def consent_emails(system: System, email: str) -> Callable[[EmailMessage], bool]:
    return lambda m: to(email)(m) and "asked to move your account" in str(m["Subject"])


def consent_token(system: System, email: str, nth: int = 1) -> str:
    """The token in the ``nth`` consent email to ``email``."""
    messages = wait_until(
        lambda: [m for m in system.sink.messages if consent_emails(system, email)(m)][nth - 1 :],
        what=f"consent email #{nth} to {email}",
    )
    found = LINK.search(text_body(messages[0]))
    assert found, text_body(messages[0])
    assert f"/migration-consents/{found.group(1)}" in html_body(messages[0])
    return found.group(1)


def decide(system: System, token: str, decision: str) -> httpx.Response:
    return system.http.post("/v1/migration-consents", json={"token": token, "decision": decision})


def support_ticket(system: System, agent: Person, ticket_id: str) -> dict[str, Any]:
    response = system.http.get(
        f"/v1/support/migration-tickets/{ticket_id}", headers=agent["headers"]
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def support_list(system: System, agent: Person, status: str | None = None) -> list[Any]:
    params = {"status": status} if status else {}
    response = system.http.get(
        "/v1/support/migration-tickets", params=params, headers=agent["headers"]
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def wait_for_status(system: System, agent: Person, ticket_id: str, status: str) -> dict[str, Any]:
    return dict(
        wait_until(
            lambda: (t := support_ticket(system, agent, ticket_id))["status"] == status and t,
            what=f"ticket {ticket_id} {status}",
        )
    )


def approve(system: System, agent: Person, ticket_id: str, note: str = "ok") -> httpx.Response:
    return system.http.post(
        f"/v1/support/migration-tickets/{ticket_id}/approve",
        json={"note": note},
        headers=agent["headers"],
    )


def reject(system: System, agent: Person, ticket_id: str, reason: str) -> httpx.Response:
    return system.http.post(
        f"/v1/support/migration-tickets/{ticket_id}/reject",
        json={"reason": reason},
        headers=agent["headers"],
    )


def consented_ticket(system: System, owner: Person, person: Person, role: str = "user") -> str:
    """Open a ticket for ``person`` and accept it through the emailed link."""
    email = person["account"]["email"]
    sent_before = system.sink.count(consent_emails(system, email))
    opened = open_ticket(system, owner, email, role=role)
    assert opened.status_code == 202, opened.text
    token = consent_token(system, email, nth=sent_before + 1)
    accepted = decide(system, token, "accept")
    assert accepted.status_code == 200 and accepted.json() == {"status": "awaiting_review"}
    return str(opened.json()["id"])


def outcome_emails(system: System, subject_part: str) -> list[EmailMessage]:
    return [m for m in system.sink.messages if subject_part in str(m["Subject"])]


def recipients(messages: list[EmailMessage]) -> list[str]:
    return sorted(str(m["To"]).split("<")[-1].rstrip(">") for m in messages)


def me(system: System, person: Person) -> dict[str, Any]:
    body: dict[str, Any] = system.http.get("/v1/me", headers=person["headers"]).json()
    return body


def team_events(system: System, team_id: str) -> list[str]:
    with system.runtime.db.unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(Event.action).where(Event.team_id == team_id).order_by(Event.at)
            )
        )


@pytest.fixture
def sam(add_support_agent: AddSupportAgent) -> Person:
    return add_support_agent()


# --- the whole way ---------------------------------------------------------------------------


def test_a_solo_account_consents_is_approved_and_moves_and_its_old_team_closes(
    system: System, sam: Person
) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    dave_team = dave["team"]["id"]
    secret = system.key_secret(dave)
    call = {"model": "m", "input_tokens": 1, "output_tokens": 1}
    usage = {"Authorization": f"Bearer {secret}"}
    assert system.http.post("/v1/usage", json={"id": "a", **call}, headers=usage).status_code == 202

    opened = open_ticket(
        system, carol, "  DAVE" + dave["account"]["email"][4:].upper(), note="lead"
    )
    assert opened.status_code == 202, opened.text
    ticket = opened.json()
    assert ticket["status"] == "awaiting_consent" and ticket["email"] == dave["account"]["email"]
    assert ticket["role"] == "user" and ticket["note"] == "lead"

    message = system.sink.wait_for(consent_emails(system, dave["account"]["email"]))
    assert message["Subject"] == "Carol asked to move your account to Carol's Team on teamkeys"
    assert "Hi Dave," in text_body(message) and "expires on" in text_body(message)
    token = consent_token(system, dave["account"]["email"])
    preview = system.http.get(f"/v1/migration-consents/{token}")
    assert preview.status_code == 200
    assert preview.json() | {"expires_at": None} == {
        "requester_email": carol["account"]["email"],
        "requester_name": "Carol",
        "team_name": "Carol's Team",
        "role": "user",
        "account_email": dave["account"]["email"],
        "expires_at": None,
    }
    assert decide(system, token, "accept").json() == {"status": "awaiting_review"}
    # Single use.
    assert_error(decide(system, token, "accept"), 410, "consent_unusable")
    assert_error(system.http.get(f"/v1/migration-consents/{token}"), 410, "consent_unusable")

    [listed] = support_list(system, sam, "awaiting_review")
    assert listed["id"] == ticket["id"]
    assert listed["requester_email"] == carol["account"]["email"]
    assert listed["account_email"] == dave["account"]["email"]
    assert listed["target_team"] == {"id": carol["team"]["id"], "name": "Carol's Team"}
    assert listed["current_team"] == {
        "id": dave_team,
        "name": "Dave's Team",
        "member_count": 1,
        "owner_count": 1,
        "account_role": "owner",
        "account_is_sole_owner": True,
    }
    assert listed["role"] == "user" and listed["note"] == "lead"
    assert [(h["from_status"], h["to_status"], h["actor_email"]) for h in listed["history"]] == [
        (None, "awaiting_consent", carol["account"]["email"]),
        ("awaiting_consent", "awaiting_review", dave["account"]["email"]),
    ]
    assert support_list(system, sam, "awaiting_consent") == []

    approved = approve(system, sam, ticket["id"], note="checked with both")
    assert approved.status_code == 202, approved.text
    assert approved.json()["status"] == "approved"
    done = wait_for_status(system, sam, ticket["id"], "completed")

    assert [(h["to_status"], h["actor_email"]) for h in done["history"]][2:] == [
        ("approved", "sam@support.teamkeys.test"),
        ("completed", None),
    ]
    assert done["history"][2]["note"] == "checked with both"
    assert (
        me(system, dave)["team"]["id"] == carol["team"]["id"] and me(system, dave)["role"] == "user"
    )
    members = system.http.get(
        f"/v1/teams/{carol['team']['id']}/members", headers=carol["headers"]
    ).json()["items"]
    assert {m["email"] for m in members} == {carol["account"]["email"], dave["account"]["email"]}
    # The old team is closed and its key stopped at once.
    with system.runtime.db.unit_of_work() as uow:
        old = uow.session.get(Team, dave_team)
        assert old is not None and old.closed_at is not None
        keys = uow.session.scalars(select(ApiKey.status).where(ApiKey.team_id == dave_team))
        assert list(keys) == ["deleted"]
    assert_error(system.http.post("/v1/usage", json={"id": "b", **call}, headers=usage), 401)
    assert "member.migrated_in" in team_events(system, carol["team"]["id"])
    old_actions = team_events(system, dave_team)
    assert {"member.migrated_out", "team.closed", "api_key.deleted"} <= set(old_actions)
    # Requester and account holder (also the old team's only owner) are told, once each.
    wait_until(lambda: len(outcome_emails(system, "moved to Carol's Team")) == 2, what="outcomes")
    told = outcome_emails(system, "moved to Carol's Team")
    assert recipients(told) == sorted([carol["account"]["email"], dave["account"]["email"]])
    assert "it was closed and its API keys were deleted" in text_body(told[0])
    owners_view = system.http.get(tickets_url(carol), headers=carol["headers"]).json()["items"]
    assert [t["status"] for t in owners_view] == ["completed"]


def test_a_member_of_a_shared_team_moves_and_every_party_is_told(
    system: System, sam: Person
) -> None:
    carol = system.sign_up("Carol")
    eve = system.sign_up("Eve")
    dave = system.join(eve["team"]["id"], "Dave", role="user")

    ticket_id = consented_ticket(system, carol, dave, role="owner")
    listed = support_ticket(system, sam, ticket_id)
    assert listed["current_team"]["member_count"] == 2
    assert listed["current_team"]["account_is_sole_owner"] is False
    assert approve(system, sam, ticket_id).status_code == 202
    wait_for_status(system, sam, ticket_id, "completed")

    assert (
        me(system, dave)["team"]["id"] == carol["team"]["id"]
        and me(system, dave)["role"] == "owner"
    )
    remaining = system.http.get(f"/v1/teams/{eve['team']['id']}/members", headers=eve["headers"])
    assert [m["email"] for m in remaining.json()["items"]] == [eve["account"]["email"]]
    wait_until(lambda: len(outcome_emails(system, "moved to Carol's Team")) == 3, what="outcomes")
    told = outcome_emails(system, "moved to Carol's Team")
    assert recipients(told) == sorted(p["account"]["email"] for p in (carol, dave, eve))
    assert "closed" not in text_body(told[0])
    eve_events = system.http.get(f"/v1/teams/{eve['team']['id']}/events", headers=eve["headers"])
    assert "member.migrated_out" in [e["action"] for e in eve_events.json()["items"]]
    with system.runtime.db.unit_of_work() as uow:
        assert uow.session.get(Team, eve["team"]["id"]).closed_at is None  # type: ignore[union-attr]


def test_the_sole_owner_of_a_team_with_other_members_fails_transfer_ownership_first(
    system: System, sam: Person
) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    uma = system.join(dave["team"]["id"], "Uma")
    ticket_id = consented_ticket(system, carol, dave)
    assert support_ticket(system, sam, ticket_id)["current_team"]["account_is_sole_owner"] is True

    assert approve(system, sam, ticket_id).status_code == 202
    failed = wait_for_status(system, sam, ticket_id, "failed")

    assert failed["failure_reason"].startswith("transfer ownership first")
    assert (
        me(system, dave)["team"]["id"] == dave["team"]["id"] and me(system, dave)["role"] == "owner"
    )
    assert me(system, uma)["team"]["id"] == dave["team"]["id"]
    wait_until(lambda: len(outcome_emails(system, "failed")) == 2, what="failure emails")
    told = outcome_emails(system, "failed")
    assert recipients(told) == sorted([carol["account"]["email"], dave["account"]["email"]])
    assert "transfer ownership first" in text_body(told[0])
    assert "migration.failed" in team_events(system, dave["team"]["id"])
    assert "migration.failed" in team_events(system, carol["team"]["id"])
    # The account is free for a new ticket once ownership is handed over.
    assert open_ticket(system, carol, dave["account"]["email"]).status_code == 202


# --- the other endings -----------------------------------------------------------------------


def test_the_account_holder_declines(system: System, sam: Person) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    ticket_id = open_ticket(system, carol, dave["account"]["email"]).json()["id"]
    token = consent_token(system, dave["account"]["email"])

    assert decide(system, token, "decline").json() == {"status": "declined"}

    assert_error(decide(system, token, "accept"), 410, "consent_unusable")
    assert support_ticket(system, sam, ticket_id)["status"] == "declined"
    assert_error(approve(system, sam, ticket_id), 409, "ticket_not_awaiting_review")
    told = system.sink.wait_for(lambda m: "declined to move" in str(m["Subject"]))
    assert to(carol["account"]["email"])(told)
    assert me(system, dave)["team"]["id"] == dave["team"]["id"]
    assert_error(decide(system, "mct_nonsense", "accept"), 410, "consent_unusable")
    assert_error(
        system.http.post("/v1/migration-consents", json={"token": token, "decision": "maybe"}),
        422,
        "invalid_request",
    )


def test_a_support_agent_rejects_with_a_reason(system: System, sam: Person) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    ticket_id = consented_ticket(system, carol, dave)

    assert_error(reject(system, sam, ticket_id, ""), 422)
    rejected = reject(system, sam, ticket_id, "The account holder asked us not to.")

    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["history"][-1]["note"] == "The account holder asked us not to."
    assert_error(approve(system, sam, ticket_id), 409, "ticket_not_awaiting_review")
    assert_error(reject(system, sam, ticket_id, "again"), 409, "ticket_not_awaiting_review")
    wait_until(lambda: len(outcome_emails(system, "was turned down")) == 2, what="rejection emails")
    told = outcome_emails(system, "was turned down")
    assert recipients(told) == sorted([carol["account"]["email"], dave["account"]["email"]])
    assert "asked us not to" in text_body(told[0])
    assert me(system, dave)["team"]["id"] == dave["team"]["id"]
    owners_view = system.http.get(tickets_url(carol), headers=carol["headers"]).json()["items"]
    assert owners_view[0]["failure_reason"] == "The account holder asked us not to."


def test_the_owner_cancels_before_approval_but_not_after(system: System, sam: Person) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    waiting = open_ticket(system, carol, dave["account"]["email"]).json()["id"]
    token = consent_token(system, dave["account"]["email"])

    assert (
        system.http.delete(tickets_url(carol, waiting), headers=carol["headers"]).status_code == 204
    )
    assert (
        system.http.delete(tickets_url(carol, waiting), headers=carol["headers"]).status_code == 204
    )
    assert_error(decide(system, token, "accept"), 410, "consent_unusable")
    assert support_ticket(system, sam, waiting)["status"] == "cancelled"

    reviewed = consented_ticket(system, carol, dave)  # the account is free again
    assert (
        system.http.delete(tickets_url(carol, reviewed), headers=carol["headers"]).status_code
        == 204
    )
    assert support_ticket(system, sam, reviewed)["status"] == "cancelled"
    assert_error(approve(system, sam, reviewed), 409, "ticket_not_awaiting_review")

    third = consented_ticket(system, carol, dave)
    with system.jobs_held():
        assert approve(system, sam, third).status_code == 202
        assert_error(
            system.http.delete(tickets_url(carol, third), headers=carol["headers"]),
            409,
            "ticket_closed",
        )
    wait_for_status(system, sam, third, "completed")
    assert_error(
        system.http.delete(tickets_url(carol, third), headers=carol["headers"]),
        409,
        "ticket_closed",
    )
    assert_error(
        system.http.delete(tickets_url(carol, "mig_nope"), headers=carol["headers"]),
        404,
        "no_such_ticket",
    )


def test_an_unanswered_ticket_expires_in_the_sweep(system: System, sam: Person) -> None:
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")
    ticket = open_ticket(system, carol, dave["account"]["email"]).json()
    token = consent_token(system, dave["account"]["email"])
    with system.runtime.db.unit_of_work() as uow:
        row = uow.session.get(MigrationTicket, ticket["id"])
        assert row is not None
        assert row.expires_at - row.created_at == timedelta(days=7)  # the default setting
        uow.session.execute(
            update(MigrationTicket).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        uow.commit()

    assert_error(system.http.get(f"/v1/migration-consents/{token}"), 410, "consent_expired")
    assert sweep_migration_tickets(system.runtime) == 1

    assert support_ticket(system, sam, ticket["id"])["status"] == "expired"
    assert_error(decide(system, token, "accept"), 410, "consent_unusable")
    assert sweep_migration_tickets(system.runtime) == 0
    assert "migration.expired" in team_events(system, carol["team"]["id"])
    assert open_ticket(system, carol, dave["account"]["email"]).status_code == 202


# --- the job's re-checks -----------------------------------------------------------------------


def test_the_job_fails_when_the_requester_is_no_longer_an_owner(
    system: System, sam: Person
) -> None:
    carol = system.sign_up("Carol")
    olga = system.join(carol["team"]["id"], "Olga", role="owner")
    dave = system.sign_up("Dave")
    ticket_id = consented_ticket(system, carol, dave)
    demoted = system.http.patch(
        f"/v1/teams/{carol['team']['id']}/members/{carol['account']['id']}",
        json={"role": "user"},
        headers=olga["headers"],
    )
    assert demoted.status_code == 200

    assert approve(system, sam, ticket_id).status_code == 202
    failed = wait_for_status(system, sam, ticket_id, "failed")

    assert "no longer an owner" in failed["failure_reason"]
    assert me(system, dave)["team"]["id"] == dave["team"]["id"]


# --- refusals ------------------------------------------------------------------------------


def test_opening_refuses_unknown_accounts_members_and_a_second_open_ticket(
    system: System, add_support_agent: AddSupportAgent
) -> None:
    sid = add_support_agent(email="sid@example.com", name="Sid")
    carol = system.sign_up("Carol")
    uma = system.join(carol["team"]["id"], "Uma")
    dave = system.sign_up("Dave")
    frank = system.sign_up("Frank")

    assert_error(open_ticket(system, carol, "nobody@example.com"), 404, "no_such_account")
    # Support agents belong to no team and cannot be moved into one.
    assert_error(open_ticket(system, carol, sid["account"]["email"]), 404, "no_such_account")
    assert_error(open_ticket(system, carol, uma["account"]["email"]), 409, "already_member")
    assert_error(open_ticket(system, carol, carol["account"]["email"]), 409, "already_member")
    assert_error(
        system.http.post(
            tickets_url(carol),
            json={"email": "x@example.com", "role": "boss"},
            headers=carol["headers"],
        ),
        422,
        "invalid_request",
    )
    first = open_ticket(system, carol, dave["account"]["email"])
    assert first.status_code == 202
    assert_error(open_ticket(system, carol, dave["account"]["email"]), 409, "ticket_already_open")
    # One open ticket per account, whichever team asks.
    assert_error(open_ticket(system, frank, dave["account"]["email"]), 409, "ticket_already_open")
    assert len(system.http.get(tickets_url(carol), headers=carol["headers"]).json()["items"]) == 1


def test_team_routes_are_for_owners_and_hidden_from_outsiders(system: System, sam: Person) -> None:
    carol = system.sign_up("Carol")
    uma = system.join(carol["team"]["id"], "Uma")
    dave = system.sign_up("Dave")
    outsider = system.sign_up("Xavier")
    ticket_id = open_ticket(system, carol, dave["account"]["email"]).json()["id"]

    as_uma = uma | {"team": carol["team"]}
    assert_error(open_ticket(system, as_uma, "x@example.com"), 403, "not_allowed")
    assert_error(system.http.get(tickets_url(carol), headers=uma["headers"]), 403, "not_allowed")
    assert_error(
        system.http.delete(tickets_url(carol, ticket_id), headers=uma["headers"]),
        403,
        "not_allowed",
    )
    as_outsider = outsider | {"team": carol["team"]}
    assert_error(open_ticket(system, as_outsider, dave["account"]["email"]), 404)
    assert_error(system.http.get(tickets_url(carol), headers=outsider["headers"]), 404)
    assert_error(
        system.http.delete(tickets_url(carol, ticket_id), headers=outsider["headers"]), 404
    )
    # A ticket of another team is not there for this team's owner.
    assert_error(
        system.http.delete(tickets_url(outsider, ticket_id), headers=outsider["headers"]),
        404,
        "no_such_ticket",
    )
    assert_error(system.http.get(tickets_url(carol), headers=sam["headers"]), 403, "not_allowed")
    assert_error(system.http.get(tickets_url(carol)), 401, "unauthenticated")
    assert support_ticket(system, sam, ticket_id)["status"] == "awaiting_consent"


def test_customers_get_403_on_support_ticket_routes(system: System, sam: Person) -> None:
    carol = system.sign_up("Carol")
    uma = system.join(carol["team"]["id"], "Uma")
    dave = system.sign_up("Dave")
    ticket_id = consented_ticket(system, carol, dave)

    for customer in (carol, uma, dave):
        headers = customer["headers"]
        base = "/v1/support/migration-tickets"
        assert_error(system.http.get(base, headers=headers), 403, "not_allowed")
        assert_error(system.http.get(f"{base}/{ticket_id}", headers=headers), 403, "not_allowed")
        assert_error(approve(system, customer, ticket_id), 403, "not_allowed")
        assert_error(reject(system, customer, ticket_id, "no"), 403, "not_allowed")
    assert_error(system.http.get("/v1/support/migration-tickets"), 401, "unauthenticated")
    assert support_ticket(system, sam, ticket_id)["status"] == "awaiting_review"
    assert_error(approve(system, sam, "mig_nope"), 404, "no_such_ticket")
    assert_error(
        system.http.get(
            "/v1/support/migration-tickets", params={"status": "lost"}, headers=sam["headers"]
        ),
        422,
        "invalid_request",
    )


@pytest.fixture
def few_tickets(settings: Settings, sink: FaultySink) -> Iterator[System]:
    rates = {
        "limit_migration_tickets_per_team": "3/day",
        "limit_migration_tickets_per_email": "2/7 days",
    }
    with running_system(settings.model_copy(update=rates), sink) as running:
        yield running


def test_tickets_are_limited_per_person_asked_and_per_team(few_tickets: System) -> None:
    """Each ticket emails its account's holder: opening and cancelling tickets over and over
    must not flood them."""
    system = few_tickets
    carol = system.sign_up("Carol")
    dave = system.sign_up("Dave")["account"]["email"]
    for nth in (1, 2):
        opened = open_ticket(system, carol, dave)
        assert opened.status_code == 202, opened.text
        consent_token(system, dave, nth)  # each ticket emailed Dave
        cancelled = system.http.delete(
            tickets_url(carol, opened.json()["id"]), headers=carol["headers"]
        )
        assert cancelled.status_code == 204
    third = open_ticket(system, carol, dave)
    assert_error(third, 429, "ticket_limit")
    assert int(third.headers["Retry-After"]) > 6 * 24 * 3600  # the week's window

    erin = system.sign_up("Erin")["account"]["email"]
    assert open_ticket(system, carol, erin).status_code == 202  # the team's third today
    frank = system.sign_up("Frank")["account"]["email"]
    by_team = open_ticket(system, carol, frank)
    assert_error(by_team, 429, "ticket_limit")
    assert 0 < int(by_team.headers["Retry-After"]) <= 24 * 3600
    assert len([m for m in system.sink.messages if consent_emails(system, dave)(m)]) == 2
