"""Accounts and sessions over HTTP, with the worker sending the welcome email."""

from __future__ import annotations

from tests.conftest import System
from tests.support import html_body, text_body, to


def test_sign_up_creates_an_owned_team_and_sends_a_welcome_email(system: System) -> None:
    response = system.http.post(
        "/v1/signup",
        json={
            "email": "  Grace.Hopper@Example.COM ",
            "name": "Grace",
            "password": "correct horse battery",
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["account"]["email"] == "grace.hopper@example.com"
    assert body["team"]["name"] == "Grace's Team"
    me = system.http.get("/v1/me", headers={"Authorization": f"Bearer {body['token']}"}).json()
    assert me["role"] == "owner" and me["team"]["id"] == body["team"]["id"]

    email = system.sink.wait_for(to("grace.hopper@example.com"))
    assert "Welcome" in email["Subject"]
    assert email.get_content_type() == "multipart/alternative"
    assert "Grace's Team" in text_body(email)
    assert "Grace&#39;s Team" in html_body(email) or "Grace&#x27;s Team" in html_body(email)
    assert "You received this email because" in text_body(email)
    assert email["Message-ID"].endswith("@teamkeys.localhost>")


def test_an_email_can_have_only_one_account_whatever_its_case(system: System) -> None:
    system.sign_up("Ada", email="ada@example.com")
    again = system.http.post(
        "/v1/signup",
        json={"email": "ADA@example.com ", "name": "Ada Two", "password": "correct horse battery"},
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "email_taken"


def test_sign_in_sign_out_and_me(system: System) -> None:
    ada = system.sign_up("Ada", email="ada.signin@example.com")
    signed_in = system.http.post(
        "/v1/sessions",
        json={"email": "ADA.signin@example.com", "password": "correct horse battery"},
    )
    assert signed_in.status_code == 201
    headers = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    me = system.http.get("/v1/me", headers=headers)
    assert me.json()["account"]["id"] == ada["account"]["id"]

    assert system.http.delete("/v1/sessions/current", headers=headers).status_code == 204
    after = system.http.get("/v1/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "unauthenticated"
    # The other session is untouched.
    assert system.http.get("/v1/me", headers=ada["headers"]).status_code == 200


def test_wrong_password_is_401_and_repeated_failures_are_throttled(system: System) -> None:
    system.sign_up("Eve", email="eve@example.com")
    for _ in range(system.runtime.settings.signin_max_failures):
        wrong = system.http.post(
            "/v1/sessions", json={"email": "eve@example.com", "password": "not the password"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_credentials"

    locked = system.http.post(
        "/v1/sessions", json={"email": "eve@example.com", "password": "correct horse battery"}
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.json()["error"]["code"] == "too_many_attempts"
    # Another email is not affected.
    system.sign_up("Bob", email="bob@example.com")
    ok = system.http.post(
        "/v1/sessions", json={"email": "bob@example.com", "password": "correct horse battery"}
    )
    assert ok.status_code == 201


def test_unknown_email_and_wrong_password_look_the_same(system: System) -> None:
    system.sign_up("Ada", email="ada.same@example.com")
    unknown = system.http.post(
        "/v1/sessions", json={"email": "nobody@example.com", "password": "whatever it is"}
    )
    wrong = system.http.post(
        "/v1/sessions", json={"email": "ada.same@example.com", "password": "whatever it is"}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
