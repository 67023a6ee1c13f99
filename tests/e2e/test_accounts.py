"""Accounts over HTTP, with the worker sending the emails and the links read back out of them:
sign-up and email verification, sign-in and its limits, passwords and their reset, sessions."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, select, update

from domain.clock import utcnow
from domain.models import Account, AccountLink, Event, Team
from infra.db import make_engine
from infra.settings import Settings
from tests.conftest import PASSWORD, System, running_system
from tests.faulty_sink import FaultySink
from tests.support import html_body, text_body, to, wait_until
from workers.scheduler import sweep_unverified_accounts

VERIFY = re.compile(r"https://app\.teamkeys\.test/verify-email/(vfy_[A-Za-z0-9_\-]+)")
RESET = re.compile(r"https://app\.teamkeys\.test/reset-password/(rst_[A-Za-z0-9_\-]+)")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_up(http: httpx.Client, email: str, name: str = "Grace", password: str = PASSWORD) -> Any:
    response = http.post("/v1/signup", json={"email": email, "name": name, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def sign_in(http: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return http.post("/v1/sessions", json={"email": email, "password": password})


def links(system: System, email: str, pattern: re.Pattern[str], count: int = 1) -> list[str]:
    """The tokens of the first ``count`` emails to ``email`` with a link like ``pattern``."""

    def found() -> list[str]:
        tokens = []
        for message in system.sink.messages:
            if to(email)(message) and (match := pattern.search(text_body(message))):
                tokens.append(match.group(1))
        return tokens if len(tokens) >= count else []

    return wait_until(found, what=f"{count} link email(s) to {email}")  # type: ignore[no-any-return]


def confirm(system: System, token: str) -> httpx.Response:
    return system.http.post("/v1/email-verifications/confirm", json={"token": token})


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_sign_up_verify_by_the_emailed_link_and_the_welcome_email_follows(system: System) -> None:
    response = system.http.post(
        "/v1/signup",
        json={"email": "  Grace.Hopper@Example.COM ", "name": "Grace", "password": PASSWORD},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["account"]["email"] == "grace.hopper@example.com"
    assert body["account"]["email_verified"] is False
    assert body["team"]["name"] == "Grace's Team"
    headers = bearer(body["token"])
    me = system.http.get("/v1/me", headers=headers).json()
    assert me["role"] == "owner" and me["team"]["id"] == body["team"]["id"]
    assert me["account"]["email_verified"] is False

    message = system.sink.wait_for(to("grace.hopper@example.com"))
    assert message["Subject"] == "Confirm your email address for teamkeys"
    assert message.get_content_type() == "multipart/alternative"
    [token] = links(system, "grace.hopper@example.com", VERIFY)
    assert f"/verify-email/{token}" in html_body(message)
    assert "expires on" in text_body(message)

    confirmed = confirm(system, token)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["account"]["email_verified"] is True
    welcome = system.sink.wait_for(
        lambda m: to("grace.hopper@example.com")(m) and "Welcome" in m["Subject"]
    )
    assert "Grace's Team" in text_body(welcome)
    team = system.http.get(f"/v1/teams/{body['team']['id']}", headers=headers)
    assert team.status_code == 200  # the session signed up with is now a verified one
    again = confirm(system, token)
    assert again.status_code == 410 and error_code(again) == "link_used"


def test_an_unverified_session_may_only_read_itself_ask_for_a_link_and_sign_out(
    system: System,
) -> None:
    body = sign_up(system.http, "unverified@example.com")
    headers, team = bearer(body["token"]), body["team"]["id"]
    for method, path, json in (
        ("GET", f"/v1/teams/{team}", None),
        ("GET", f"/v1/teams/{team}/members", None),
        ("POST", f"/v1/teams/{team}/invitations", {"email": "x@example.com", "role": "user"}),
        ("POST", f"/v1/teams/{team}/api-keys", {"name": "k", "kind": "trial"}),
        ("GET", "/v1/me/sessions", None),
        ("PUT", "/v1/me/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
        ("GET", "/v1/support/emails", None),
    ):
        refused = system.http.request(method, path, json=json, headers=headers)
        assert refused.status_code == 403, (method, path, refused.text)
        assert error_code(refused) == "email_not_verified"

    assert system.http.get("/v1/me", headers=headers).status_code == 200
    assert system.http.post("/v1/email-verifications", headers=headers).status_code == 202
    assert system.http.delete("/v1/sessions/current", headers=headers).status_code == 204
    assert system.http.get("/v1/me", headers=headers).status_code == 401


def test_a_new_verification_link_replaces_the_old_one(system: System) -> None:
    body = sign_up(system.http, "twice@example.com")
    [first] = links(system, "twice@example.com", VERIFY)
    assert (
        system.http.post("/v1/email-verifications", headers=bearer(body["token"])).status_code
        == 202
    )
    second = links(system, "twice@example.com", VERIFY, count=2)[1]

    old = confirm(system, first)
    assert old.status_code == 410 and error_code(old) == "link_replaced"
    assert confirm(system, second).status_code == 200
    done = system.http.post("/v1/email-verifications", headers=bearer(body["token"]))
    assert done.status_code == 409 and error_code(done) == "already_verified"


def test_an_expired_or_unknown_verification_link_is_410(system: System) -> None:
    sign_up(system.http, "late@example.com")
    [token] = links(system, "late@example.com", VERIFY)
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        uow.commit()
    expired = confirm(system, token)
    assert expired.status_code == 410 and error_code(expired) == "link_expired"
    unknown = confirm(system, "vfy_" + "A" * 43)
    assert unknown.status_code == 410 and error_code(unknown) == "link_unusable"


def test_an_email_squatter_gets_nothing_when_the_real_holder_is_invited(system: System) -> None:
    """Mallory signs up with carol@corp.example, an address she does not own. Bob invites the
    real Carol, who accepts from her mailbox: Mallory's account, session and team are gone."""
    carol = "carol@corp.example"
    squatter = sign_up(system.http, carol, name="Mallory", password="mallory's own password")
    mallory = bearer(squatter["token"])
    bob = system.sign_up("Bob")
    bob_team = bob["team"]["id"]

    # Mallory cannot act, and the address is not hers to block: Bob's invitation goes ahead,
    # and no migration ticket can name an account nobody proved.
    assert (
        system.http.get(f"/v1/teams/{squatter['team']['id']}/members", headers=mallory).status_code
        == 403
    )
    ticket = system.http.post(
        f"/v1/teams/{bob_team}/migration-tickets",
        json={"email": carol, "role": "owner", "note": ""},
        headers=bob["headers"],
    )
    assert ticket.status_code == 404 and error_code(ticket) == "no_such_account"
    invited = system.http.post(
        f"/v1/teams/{bob_team}/invitations",
        json={"email": carol, "role": "owner"},
        headers=bob["headers"],
    )
    assert invited.status_code == 202, invited.text

    # The real Carol reads her mail and accepts.
    invitation = system.sink.wait_for(lambda m: to(carol)(m) and "invited you" in m["Subject"])
    token = re.search(r"/invitations/(inv_[A-Za-z0-9_\-]+)", text_body(invitation))
    assert token is not None
    accepted = system.http.post(
        "/v1/invitations/accept",
        json={"token": token.group(1), "name": "Carol", "password": "carol's real password"},
    )
    assert accepted.status_code == 201, accepted.text
    me = system.http.get("/v1/me", headers=bearer(accepted.json()["token"])).json()
    assert me["team"]["id"] == bob_team and me["role"] == "owner"
    assert me["account"]["email_verified"] is True

    # Mallory: her session is dead, her password opens nothing, her link is dead, her team gone.
    assert system.http.get("/v1/me", headers=mallory).status_code == 401
    assert sign_in(system.http, carol, "mallory's own password").status_code == 401
    [her_link] = links(system, carol, VERIFY)
    assert confirm(system, her_link).status_code == 410
    again = system.http.post(
        "/v1/signup", json={"email": carol, "name": "Mallory", "password": "mallory again!!"}
    )
    assert again.status_code == 409 and error_code(again) == "email_taken"
    with system.runtime.db.unit_of_work() as uow:
        assert uow.session.get(Team, squatter["team"]["id"]) is None
        assert uow.session.get(Account, squatter["account"]["id"]) is None
        removed = uow.session.scalar(
            select(Event).where(Event.action == "account.unverified_removed")
        )
        assert removed is not None and removed.target == squatter["account"]["id"]
    assert sign_in(system.http, carol, "carol's real password").status_code == 201


def test_signing_up_with_a_squatted_email_goes_ahead_and_verifying_removes_the_squatter(
    system: System,
) -> None:
    email = "dana@corp.example"
    squatter = sign_up(system.http, email, name="Mallory", password="mallory's own password")
    [_squatters_link] = links(system, email, VERIFY)
    dana = sign_up(system.http, email, name="Dana", password="dana's real password")
    dana_link = links(system, email, VERIFY, count=2)[1]

    # Each unverified holder signs in with their own password.
    assert sign_in(system.http, email, "mallory's own password").status_code == 201
    assert sign_in(system.http, email, "dana's real password").status_code == 201

    assert confirm(system, dana_link).status_code == 200
    assert system.http.get("/v1/me", headers=bearer(squatter["token"])).status_code == 401
    assert sign_in(system.http, email, "mallory's own password").status_code == 401
    me = system.http.get("/v1/me", headers=bearer(dana["token"])).json()
    assert me["account"]["name"] == "Dana" and me["account"]["email_verified"] is True


def test_the_sweep_deletes_accounts_never_verified(system: System) -> None:
    old = sign_up(system.http, "old@example.com")
    fresh = sign_up(system.http, "fresh@example.com")
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(
            update(Account)
            .where(Account.id == old["account"]["id"])
            .values(created_at=utcnow() - timedelta(days=8))
        )
        uow.commit()
    assert sweep_unverified_accounts(system.runtime) == 1
    assert system.http.get("/v1/me", headers=bearer(old["token"])).status_code == 401
    assert system.http.get("/v1/me", headers=bearer(fresh["token"])).status_code == 200


def test_wrong_password_and_unknown_email_look_the_same(system: System) -> None:
    ada = system.sign_up("Ada")
    unknown = sign_in(system.http, "nobody@example.com", "whatever it is")
    wrong = sign_in(system.http, ada["account"]["email"], "whatever it is")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert error_code(wrong) == "invalid_credentials"


def test_sign_in_sign_out_and_me(system: System) -> None:
    ada = system.sign_up("Ada", email="ada.signin@example.com")
    signed_in = sign_in(system.http, "ADA.signin@example.com")
    assert signed_in.status_code == 201
    headers = bearer(signed_in.json()["token"])
    me = system.http.get("/v1/me", headers=headers)
    assert me.json()["account"]["id"] == ada["account"]["id"]

    assert system.http.delete("/v1/sessions/current", headers=headers).status_code == 204
    after = system.http.get("/v1/me", headers=headers)
    assert after.status_code == 401
    assert error_code(after) == "unauthenticated"
    assert system.http.get("/v1/me", headers=ada["headers"]).status_code == 200


# --- abuse limits -----------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Settings, sink: FaultySink) -> Iterator[System]:
    """A system with small abuse limits."""
    tight = settings.model_copy(
        update={
            "limit_sign_in_per_email_ip": "3/15 minutes",
            "limit_sign_in_per_ip": "6/15 minutes",
            "limit_sign_up_per_ip": "4/hour",
            "limit_sign_up_per_email": "2/hour",
            "limit_verification_per_ip": "3/hour",
            "limit_verification_per_email": "2/hour",
            "limit_password_reset_per_ip": "4/hour",
            "limit_password_reset_per_email": "2/hour",
        }
    )
    with running_system(tight, sink) as running:
        yield running


def from_address(system: System, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (loopback has many)."""
    return httpx.Client(
        base_url=str(system.http.base_url),
        transport=httpx.HTTPTransport(local_address=address),
        timeout=30,
    )


def test_a_guesser_is_stopped_but_the_person_still_signs_in_from_elsewhere(limited: System) -> None:
    victim = limited.sign_up("Vera", email="vera@example.com")
    for _ in range(3):
        assert sign_in(limited.http, "vera@example.com", "a wrong guess!!").status_code == 401
    stopped = sign_in(limited.http, "vera@example.com", PASSWORD)
    assert stopped.status_code == 429 and error_code(stopped) == "too_many_attempts"
    assert 0 < int(stopped.headers["Retry-After"]) <= 15 * 60

    with from_address(limited, "127.0.0.2") as elsewhere:
        welcome = sign_in(elsewhere, "vera@example.com", PASSWORD)
        assert welcome.status_code == 201, welcome.text
        me = elsewhere.get("/v1/me", headers=bearer(welcome.json()["token"])).json()
        assert me["account"]["id"] == victim["account"]["id"]


def test_spraying_many_emails_from_one_address_meets_429(limited: System) -> None:
    answers = [
        sign_in(limited.http, f"target{n}@example.com", "Spring2026!!").status_code
        for n in range(8)
    ]
    assert answers[:6] == [401] * 6 and answers[6:] == [429, 429]
    # Another address is not affected.
    with from_address(limited, "127.0.0.3") as other:
        assert sign_in(other, "target1@example.com", "Spring2026!!").status_code == 401


def test_sign_ups_are_limited_per_address_and_per_email(limited: System) -> None:
    def sign_up_as(email: str, name: str) -> httpx.Response:
        return limited.http.post(
            "/v1/signup", json={"email": email, "name": name, "password": PASSWORD}
        )

    assert sign_up_as("same@example.com", "A").status_code == 201
    assert sign_up_as("same@example.com", "B").status_code == 201
    third = sign_up_as("same@example.com", "C")
    assert third.status_code == 429 and error_code(third) == "too_many_sign_ups"
    assert "Retry-After" in third.headers
    assert sign_up_as("other@example.com", "D").status_code == 201
    by_address = sign_up_as("fifth@example.com", "E")
    assert by_address.status_code == 429


def test_verification_emails_asked_for_again_are_limited(limited: System) -> None:
    body = sign_up(limited.http, "again@example.com")
    headers = bearer(body["token"])
    answers = [
        limited.http.post("/v1/email-verifications", headers=headers).status_code for _ in range(3)
    ]
    assert answers == [202, 202, 429]


def test_verification_emails_asked_for_many_accounts_from_one_address_are_limited(
    limited: System,
) -> None:
    """One client asking links for many unverified accounts (mailing many inboxes) meets the
    per-address limit, though no account asked more than its own limit; the same account
    asking from another address is served."""
    signed_up = []
    for n in range(4):  # each signs up from an address of its own: sign-ups have their limit
        with from_address(limited, f"127.0.1.{n + 1}") as own:
            signed_up.append(sign_up(own, f"resend{n}@example.com"))
    sessions = [bearer(body["token"]) for body in signed_up]

    answers = [limited.http.post("/v1/email-verifications", headers=h) for h in sessions]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    refused = answers[-1]
    assert error_code(refused) == "too_many_emails"
    assert 0 < int(refused.headers["Retry-After"]) <= 60 * 60
    with from_address(limited, "127.0.0.2") as elsewhere:
        served = elsewhere.post("/v1/email-verifications", headers=sessions[-1])
        assert served.status_code == 202, served.text
    # The refused request made no link: the last account has its sign-up's and elsewhere's.
    with limited.runtime.db.unit_of_work() as uow:
        made = uow.session.scalars(
            select(AccountLink.id).where(AccountLink.account_id == signed_up[-1]["account"]["id"])
        ).all()
    assert len(made) == 2


def test_reset_requests_are_limited_per_email_and_per_address(limited: System) -> None:
    answers = [
        limited.http.post("/v1/password-resets", json={"email": "who@example.com"}).status_code
        for _ in range(3)
    ]
    assert answers == [202, 202, 429]
    assert (
        limited.http.post("/v1/password-resets", json={"email": "another@example.com"}).status_code
        == 202
    )
    by_address = limited.http.post("/v1/password-resets", json={"email": "third@example.com"})
    assert by_address.status_code == 429 and "Retry-After" in by_address.headers


# --- passwords ----------------------------------------------------------------------------


def test_changing_the_password_ends_the_other_sessions(system: System) -> None:
    ada = system.sign_up("Ada")
    email = ada["account"]["email"]
    other = bearer(sign_in(system.http, email).json()["token"])
    wrong = system.http.put(
        "/v1/me/password",
        json={"current_password": "not my password", "new_password": "a brand new password"},
        headers=ada["headers"],
    )
    assert wrong.status_code == 401 and error_code(wrong) == "wrong_password"
    weak = system.http.put(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=ada["headers"],
    )
    assert weak.status_code == 422 and error_code(weak) == "weak_password"

    changed = system.http.put(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=ada["headers"],
    )
    assert changed.status_code == 204, changed.text
    assert system.http.get("/v1/me", headers=other).status_code == 401
    assert system.http.get("/v1/me", headers=ada["headers"]).status_code == 200
    assert sign_in(system.http, email).status_code == 401
    assert sign_in(system.http, email, "a brand new password").status_code == 201


def test_a_password_reset_by_email_ends_every_session(system: System) -> None:
    ada = system.sign_up("Ada", email="ada.reset@example.com")
    unknown = system.http.post("/v1/password-resets", json={"email": "nobody@example.com"})
    known = system.http.post("/v1/password-resets", json={"email": "ADA.reset@example.com"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.content == known.content

    message = system.sink.wait_for(to("ada.reset@example.com"))
    assert message["Subject"] == "Reset your teamkeys password"
    [token] = links(system, "ada.reset@example.com", RESET)
    weak = system.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "short"}
    )
    assert weak.status_code == 422
    reset = system.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "my new passphrase"}
    )
    assert reset.status_code == 204, reset.text
    assert system.http.get("/v1/me", headers=ada["headers"]).status_code == 401
    assert sign_in(system.http, "ada.reset@example.com", "my new passphrase").status_code == 201
    used = system.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "yet another one"}
    )
    assert used.status_code == 410 and error_code(used) == "link_used"
    assert not [m for m in system.sink.messages if to("nobody@example.com")(m)]


def test_a_password_reset_proves_the_email_of_an_unverified_account(system: System) -> None:
    body = sign_up(system.http, "forgetful@example.com")
    system.http.post("/v1/password-resets", json={"email": "forgetful@example.com"})
    [token] = links(system, "forgetful@example.com", RESET)
    reset = system.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "remembered now"}
    )
    assert reset.status_code == 204
    signed_in = sign_in(system.http, "forgetful@example.com", "remembered now").json()
    me = system.http.get("/v1/me", headers=bearer(signed_in["token"])).json()
    assert me["account"]["id"] == body["account"]["id"]
    assert me["account"]["email_verified"] is True


def test_a_reset_link_expires_after_its_hour(system: System) -> None:
    ada = system.sign_up("Ada")
    system.http.post("/v1/password-resets", json={"email": ada["account"]["email"]})
    [token] = links(system, ada["account"]["email"], RESET)
    with system.runtime.db.unit_of_work() as uow:
        link = uow.session.scalar(select(AccountLink))
        assert link is not None
        assert timedelta(minutes=59) < link.expires_at - link.created_at <= timedelta(hours=1)
        link.expires_at = utcnow() - timedelta(seconds=1)
        uow.commit()
    late = system.http.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "too late for it"}
    )
    assert late.status_code == 410 and error_code(late) == "link_expired"


# --- sessions ---------------------------------------------------------------------------------


def test_people_list_and_end_their_own_sessions(system: System) -> None:
    ada = system.sign_up("Ada")
    email = ada["account"]["email"]
    laptop = system.http.post(
        "/v1/sessions",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": "Firefox on my laptop"},
    ).json()
    phone = system.http.post(
        "/v1/sessions",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": "Safari on my phone"},
    ).json()

    listed = system.http.get("/v1/me/sessions", headers=bearer(laptop["token"]))
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 3
    [current] = [i for i in items if i["current"]]
    assert current["client"] == "Firefox on my laptop" and current["ip"] == "127.0.0.1"
    assert {i["client"] for i in items} >= {"Firefox on my laptop", "Safari on my phone"}
    phone_id = next(i["id"] for i in items if i["client"] == "Safari on my phone")

    outsider = system.sign_up("Otto")
    foreign = system.http.delete(f"/v1/me/sessions/{phone_id}", headers=outsider["headers"])
    assert foreign.status_code == 404
    assert (
        system.http.delete(
            f"/v1/me/sessions/{phone_id}", headers=bearer(laptop["token"])
        ).status_code
        == 204
    )
    assert system.http.get("/v1/me", headers=bearer(phone["token"])).status_code == 401

    assert system.http.delete("/v1/me/sessions", headers=bearer(laptop["token"])).status_code == 204
    assert system.http.get("/v1/me", headers=ada["headers"]).status_code == 401
    left = system.http.get("/v1/me/sessions", headers=bearer(laptop["token"])).json()["items"]
    assert [i["current"] for i in left] == [True]


@pytest.mark.parametrize("trusted", [False, True])
def test_a_forwarded_address_counts_only_from_a_trusted_proxy(
    settings: Settings, sink: FaultySink, trusted: bool
) -> None:
    proxies = "127.0.0.1" if trusted else ""
    with running_system(settings.model_copy(update={"trusted_proxies": proxies}), sink) as system:
        ada = system.sign_up("Ada")
        system.http.post(
            "/v1/sessions",
            json={"email": ada["account"]["email"], "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        items = system.http.get("/v1/me/sessions", headers=ada["headers"]).json()["items"]
        ips = {i["ip"] for i in items if not i["current"]}
        assert ips == ({"203.0.113.9"} if trusted else {"127.0.0.1"})


def test_no_password_is_hashed_or_checked_inside_a_database_transaction(
    settings: Settings, sink: FaultySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a transaction holds the write lock for its whole life: hashing (tens of
    milliseconds on purpose) inside one would stall every other request."""
    open_in: set[int] = set()  # threads with a transaction open on the system's database

    def began(_connection: object) -> None:
        open_in.add(threading.get_ident())

    def ended(_connection: object) -> None:
        open_in.discard(threading.get_ident())

    def watched_engine(url: str) -> Engine:
        # The listeners go on before any thread uses the engine: adding one to an engine in
        # use races with other threads' event dispatch (and can leak SQLite's write lock).
        engine = make_engine(url)
        event.listen(engine, "begin", began)
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)
        return engine

    monkeypatch.setattr("infra.services.make_engine", watched_engine)
    calls: list[tuple[str, bool]] = []
    with running_system(settings, sink) as system:
        passwords = system.runtime.passwords
        for name in ("hash", "verify"):
            original = getattr(passwords, name)

            def spy(*args: Any, _name: str = name, _original: Any = original) -> Any:
                calls.append((_name, threading.get_ident() in open_in))
                return _original(*args)

            monkeypatch.setattr(passwords, name, spy)

        signed_up = sign_up(system.http, "hasher@example.com", name="Hal")
        [token] = links(system, "hasher@example.com", VERIFY)
        assert confirm(system, token).status_code == 200
        assert sign_in(system.http, "hasher@example.com", "a wrong password").status_code == 401
        assert sign_in(system.http, "hasher@example.com").status_code == 201
        assert (
            system.http.put(
                "/v1/me/password",
                json={"current_password": PASSWORD, "new_password": "another good one"},
                headers=bearer(signed_up["token"]),
            ).status_code
            == 204
        )
        system.http.post("/v1/password-resets", json={"email": "hasher@example.com"})
        [reset] = links(system, "hasher@example.com", RESET)
        assert (
            system.http.post(
                "/v1/password-resets/confirm",
                json={"token": reset, "new_password": "and a third"},
            ).status_code
            == 204
        )
        owner = system.sign_up("Olive")
        system.http.post(
            f"/v1/teams/{owner['team']['id']}/invitations",
            json={"email": "invitee@example.com", "role": "user"},
            headers=owner["headers"],
        )
        invitation = system.sink.wait_for(to("invitee@example.com"))
        found = re.search(r"/invitations/(inv_[A-Za-z0-9_\-]+)", text_body(invitation))
        assert found is not None
        assert (
            system.http.post(
                "/v1/invitations/accept",
                json={"token": found.group(1), "name": "Ivy", "password": PASSWORD},
            ).status_code
            == 201
        )
    by_request = [inside for _, inside in calls]
    assert len(by_request) >= 8, calls
    assert not any(by_request), calls


def test_passwords_are_hashed_on_their_own_threads_at_a_lower_priority(system: System) -> None:
    settings = system.runtime.settings

    def where() -> tuple[str, int]:
        thread = threading.current_thread().name
        return thread, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    name, nice = system.runtime.hashing.submit(where).result()
    assert name.startswith("password-hashing")
    assert nice == os.getpriority(os.PRIO_PROCESS, 0) + settings.password_hashing_nice
