"""What a stranger may send and what is refused before it costs anything: bodies above the
limit, names that carry links into emails, card numbers in any payment field, times that
cannot be."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from infra.settings import Settings
from tests.conftest import PASSWORD, System, running_system
from tests.error_body import assert_error
from tests.faulty_sink import FaultySink
from tests.support import CARD, LINKS


@pytest.fixture
def small_bodies(settings: Settings, sink: FaultySink) -> Iterator[System]:
    limits = {"max_body_bytes": 2048, "usage_max_body_bytes": 4096}
    with running_system(settings.model_copy(update=limits), sink) as running:
        yield running


def test_a_body_above_the_limit_is_413_before_it_is_read(small_bodies: System) -> None:
    big = {"email": "ada@example.com", "name": "A" * 3000, "password": PASSWORD}
    refused = small_bodies.http.post("/v1/signup", json=big)
    assert_error(refused, 413, "body_too_large")

    # Declared larger than the limit: refused on the header alone, before any of the body
    # arrives (a raw socket, since an HTTP client will not declare what it does not send).
    with socket.create_connection(("127.0.0.1", small_bodies.http.base_url.port or 80)) as raw:
        raw.sendall(
            b"POST /v1/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        raw.settimeout(10)
        answer = b""
        while b'"}}' not in answer and (chunk := raw.recv(65536)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b'"code":"body_too_large"' in answer.replace(b" ", b""), answer

    # Sent in chunks with no length: counted as it arrives.
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "ada@example.com", "name": "'
        for _ in range(10):
            yield b"B" * 1000
        yield b'", "password": "correct horse battery"}'

    chunked = small_bodies.http.post(
        "/v1/signup", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(chunked, 413, "body_too_large")
    assert (
        small_bodies.http.post(
            "/v1/signup", json={"email": "ok@example.com", "name": "Ok", "password": PASSWORD}
        ).status_code
        == 201
    )


def test_usage_calls_have_their_own_body_limit(small_bodies: System) -> None:
    body = {"id": "x" * 100, "model": "m", "input_tokens": 1, "output_tokens": 1}
    padded = httpx.Request("POST", "/v1/usage", json=body).content + b" " * 3000
    headers = {"Authorization": "Bearer tk_test_nope", "Content-Type": "application/json"}
    # Within the usage limit (4 KiB) though above the general one (2 KiB): read, then 401.
    assert_error(small_bodies.http.post("/v1/usage", content=padded, headers=headers), 401)
    too_big = padded + b" " * 2000
    assert_error(small_bodies.http.post("/v1/usage", content=too_big, headers=headers), 413)


def test_names_with_links_are_refused_wherever_people_choose_names(system: System) -> None:
    """Over HTTP with one name; every kind of link, on a database session, in
    tests/rules/test_input_rules.py."""
    name = LINKS[0]
    signed_up = system.http.post(
        "/v1/signup", json={"email": "ada@example.com", "name": name, "password": PASSWORD}
    )
    assert_error(signed_up, 422, "name_has_link")
    ada = system.sign_up("Ada")
    team = ada["team"]["id"]
    key = system.http.post(
        f"/v1/teams/{team}/api-keys", json={"name": name, "kind": "trial"}, headers=ada["headers"]
    )
    assert_error(key, 422, "name_has_link")
    model = system.http.post(
        f"/v1/teams/{team}/custom-models",
        json={"name": name, "base_model": "teamkeys-small"},
        headers=ada["headers"],
    )
    assert_error(model, 422, "name_has_link")


def test_a_card_number_is_refused_in_a_payment_field(system: System) -> None:
    """Over HTTP with one field; every field and way of writing a number, on a database
    session, in tests/rules/test_input_rules.py."""
    changes = {"provider_token": "4242.4242.4242.4242"}
    ada = system.sign_up("Ada")
    answer = system.http.put(
        f"/v1/teams/{ada['team']['id']}/payment-method",
        json=CARD | changes,
        headers=ada["headers"],
    )
    assert_error(answer, 422, "card_number_refused")
    assert "4242" not in answer.json()["error"]["message"]


def test_a_usage_time_that_cannot_be_is_422(system: System) -> None:
    secret = system.key_secret(system.sign_up("Ada"))
    for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z"):
        answer = system.http.post(
            "/v1/usage",
            json={"id": "c1", "model": "m", "input_tokens": 1, "output_tokens": 1}
            | {"occurred_at": when},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert_error(answer, 422, "invalid_occurred_at")
