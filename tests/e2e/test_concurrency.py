"""Invariants 1 and 2 under concurrency, over HTTP: two requests race, the rules still hold.

Each race releases two threads, each with its own HTTP connection, from one barrier, so the
requests reach the server at the same instant and run in its thread pool side by side."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from domain.models import Account, Membership, MigrationTicket
from tests.conftest import PASSWORD, System
from tests.e2e.test_invitations import invite, status_of, wait_for_invitation
from tests.error_body import assert_error
from tests.support import text_body, to, wait_until

ROUNDS = 10

#: One side of a race: sends its request with the client it is given.
Request = Callable[[httpx.Client], httpx.Response]


def race(system: System, *requests: Request) -> list[httpx.Response]:
    """Send ``requests`` at once, each from its own thread and connection; answers in order."""
    barrier = threading.Barrier(len(requests))
    answers: list[httpx.Response | BaseException | None] = [None] * len(requests)
    base_url = str(system.http.base_url)

    def run(index: int, request: Request) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                client.get("/healthz")  # connect before the barrier, not after it
                barrier.wait(timeout=10)
                answers[index] = request(client)
        except BaseException as exc:  # reported by the main thread
            answers[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, r), name=f"race-{i}") for i, r in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    responses: list[httpx.Response] = []
    for answer in answers:
        if not isinstance(answer, httpx.Response):
            raise AssertionError(f"a racing request did not answer: {answer!r}")
        responses.append(answer)
    return responses


def team_with_two_owners(system: System, round_: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    ada = system.sign_up(f"Ada {round_}")
    team_id = ada["team"]["id"]
    bob = system.join(team_id, f"Bob {round_}", role="owner")
    return team_id, ada, bob


def roles_in(system: System, team_id: str) -> dict[str, str]:
    with system.runtime.db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Membership.account_id, Membership.role).where(Membership.team_id == team_id)
        )
        return {account_id: role for account_id, role in rows.tuples()}


def every_account_in_exactly_one_team(system: System) -> bool:
    with system.runtime.db.unit_of_work() as uow:
        customers = uow.session.scalar(
            select(func.count()).select_from(Account).where(Account.is_support.is_(False))
        )
        seated = uow.session.scalar(
            select(func.count(func.distinct(Membership.account_id))).select_from(Membership)
        )
        return customers == seated


def member_request(
    team_id: str, method: str, target: dict[str, Any], by: dict[str, Any], **body: str
) -> Request:
    """``method`` on ``target``'s membership of ``team_id`` (with ``body`` as JSON, if any)."""
    return lambda client: client.request(
        method,
        f"/v1/teams/{team_id}/members/{target['account']['id']}",
        json=body or None,
        headers=by["headers"],
    )


def one_winner(
    round_: int, responses: list[httpx.Response], ok: int, refusals: dict[int, set[str]]
) -> httpx.Response:
    """Exactly one request succeeded with ``ok``; the other was refused as ``refusals`` allows
    (status → acceptable codes). Returns the refusal."""
    statuses = sorted(r.status_code for r in responses)
    winners = [r for r in responses if r.status_code == ok]
    losers = [r for r in responses if r.status_code != ok]
    assert len(winners) == 1 and len(losers) == 1, f"round {round_}, {statuses}: " + " | ".join(
        r.text for r in responses
    )
    loser = losers[0]
    assert loser.status_code in refusals, loser.text
    error = assert_error(loser, loser.status_code)
    assert error["code"] in refusals[loser.status_code], loser.text
    return loser


def two_owners_race(
    system: System, round_: int, method: str, *, each_other: bool, **body: str
) -> tuple[str, list[httpx.Response]]:
    """The two owners of a new team send ``method`` at once, on each other's membership or
    each on their own; the team and both answers."""
    team_id, ada, bob = team_with_two_owners(system, round_)
    ada_on, bob_on = (bob, ada) if each_other else (ada, bob)
    responses = race(
        system,
        member_request(team_id, method, ada_on, by=ada, **body),
        member_request(team_id, method, bob_on, by=bob, **body),
    )
    return team_id, responses


def test_two_owners_demoting_each_other_at_once_leave_one_owner(system: System) -> None:
    for round_ in range(ROUNDS):
        team_id, responses = two_owners_race(system, round_, "PATCH", each_other=True, role="user")
        # The loser is a user by the time its turn comes (403), or sees the last owner (409).
        one_winner(round_, responses, 200, {403: {"not_allowed"}, 409: {"last_owner"}})
        roles = roles_in(system, team_id)
        assert sorted(roles.values()) == ["owner", "user"], f"round {round_}: {roles}"


def test_two_owners_removing_each_other_at_once_leave_one_owner(system: System) -> None:
    for round_ in range(ROUNDS):
        team_id, responses = two_owners_race(system, round_, "DELETE", each_other=True)
        # The loser has been removed by the time its turn comes: a stranger to the team now,
        # it gets what strangers get (404); 403 or 409 would be as safe.
        refusals = {403: {"not_allowed"}, 404: {"not_found"}, 409: {"last_owner"}}
        one_winner(round_, responses, 204, refusals)
        assert list(roles_in(system, team_id).values()) == ["owner"], f"round {round_}"
        assert every_account_in_exactly_one_team(system)


def test_two_owners_leaving_at_once_leave_one_owner(system: System) -> None:
    for round_ in range(ROUNDS):
        team_id, responses = two_owners_race(system, round_, "DELETE", each_other=False)
        one_winner(round_, responses, 204, {409: {"last_owner"}})
        assert list(roles_in(system, team_id).values()) == ["owner"], f"round {round_}"
        assert every_account_in_exactly_one_team(system)


def test_one_email_proven_twice_at_once_makes_one_verified_account(system: System) -> None:
    """Two people signed up with one address (in two letter cases) and both open their
    verification links at the same instant: one account is verified, the other is gone."""
    for round_ in range(ROUNDS):
        prove_twice(system, round_)


def prove_twice(system: System, round_: int) -> None:
    address = f"Race.{round_}@Example.com"
    for email in (address.upper(), address.lower()):
        signed_up = system.http.post(
            "/v1/signup", json={"email": email, "name": "Racer", "password": PASSWORD}
        )
        assert signed_up.status_code == 201, signed_up.text

    def tokens() -> list[str]:
        found = [
            match.group(1)
            for message in system.sink.messages
            if to(address)(message)
            and (match := re.search(r"/verify-email/(vfy_[\w-]+)", text_body(message)))
        ]
        return found if len(found) == 2 else []

    def confirm(token: str) -> Request:
        return lambda client: client.post("/v1/email-verifications/confirm", json={"token": token})

    first, second = wait_until(tokens, what=f"round {round_}'s two verification emails")
    responses = race(system, confirm(first), confirm(second))

    one_winner(round_, responses, 200, {410: {"link_replaced", "link_unusable"}})
    with system.runtime.db.unit_of_work() as uow:
        holders = uow.session.execute(
            select(Account.email, Account.email_verified_at).where(
                func.lower(Account.email) == address.lower()
            )
        ).all()
    assert len(holders) == 1 and holders[0].email_verified_at is not None, f"round {round_}"
    assert holders[0].email == address.lower()
    assert every_account_in_exactly_one_team(system)


def test_two_teams_opening_a_ticket_for_one_account_at_once_open_one(system: System) -> None:
    for round_ in range(ROUNDS):
        carol = system.sign_up(f"Carol {round_}")
        frank = system.sign_up(f"Frank {round_}")
        dave = system.sign_up(f"Dave {round_}")

        def opener(owner: dict[str, Any], email: str) -> Request:
            return lambda client: client.post(
                f"/v1/teams/{owner['team']['id']}/migration-tickets",
                json={"email": email, "role": "user"},
                headers=owner["headers"],
            )

        email = dave["account"]["email"]
        responses = race(system, opener(carol, email), opener(frank, email))

        one_winner(round_, responses, 202, {409: {"ticket_already_open"}})
        with system.runtime.db.unit_of_work() as uow:
            opened = uow.session.scalar(
                select(func.count())
                .select_from(MigrationTicket)
                .where(MigrationTicket.account_id == dave["account"]["id"])
            )
        assert opened == 1, f"round {round_}"


def test_an_invitation_renewed_while_it_is_accepted_is_one_or_the_other(system: System) -> None:
    """Accepting makes the invitee's account under the team's lock, and inviting the same
    email checks for that account under it too: either the acceptance wins (the invitation
    stays accepted, the second invitation is 409 ``already_member``) or the renewal does (the
    first link is dead: 410), never both."""
    for round_ in range(ROUNDS):
        renew_while_accepting(system, round_)


def renew_while_accepting(system: System, round_: int) -> None:
    owner = system.sign_up(f"Olive {round_}")
    email = f"bob{round_}@example.com"
    invitation = invite(system, owner, email)
    assert invitation.status_code == 202, invitation.text
    token = wait_for_invitation(system, email)
    invited_again, accepted = race(
        system,
        lambda http: http.post(
            f"/v1/teams/{owner['team']['id']}/invitations",
            json={"email": email, "role": "user"},
            headers=owner["headers"],
        ),
        lambda http: http.post(
            "/v1/invitations/accept", json={"token": token, "name": "Bob", "password": PASSWORD}
        ),
    )
    outcome = (invited_again.status_code, accepted.status_code)
    assert outcome in ((409, 201), (202, 410)), (round_, invited_again.text, accepted.text)
    status = status_of(system, owner, invitation.json()["id"])
    # Renewed: its new round is on its way (or already sent).
    assert status in (("accepted",) if accepted.status_code == 201 else ("pending", "sent"))
