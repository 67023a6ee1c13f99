"""Bad input is answered with a 4xx and docs/api.md's JSON error body, never a 500 or an HTML page;
the probes answer; the OpenAPI document lists every route's error responses."""

from __future__ import annotations

import re
from typing import Any

from tests.api_doc import documented_endpoints
from tests.conftest import PASSWORD, System
from tests.error_body import assert_error

#: Who, in docs/api.md, may call a route without a session (operators are refused with 403).
PUBLIC = {"anyone", "link holder", "operators"}
#: Who may call a route without a verified session: every other route refuses an unverified
#: one with 403 ``email_not_verified`` (docs/api.md, "Unverified accounts").
WITHOUT_VERIFIED_SESSION = PUBLIC | {"signed in, even unverified", "API key"}


def test_malformed_json_is_400_malformed_json(system: System) -> None:
    ada = system.sign_up("Ada")
    json_type = {"Content-Type": "application/json"}

    for body in (b'{"email": "a@example.com",', b"{'single': 'quotes'}", b"\xff\xfe"):
        response = system.http.post("/v1/signup", content=body, headers=json_type)
        assert_error(response, 400, "malformed_json")
    response = system.http.patch(
        f"/v1/teams/{ada['team']['id']}/members/{ada['account']['id']}",
        content=b'{"role": owner}',
        headers={**json_type, **ada["headers"]},
    )
    assert_error(response, 400, "malformed_json")


def test_wrong_types_are_422_naming_the_field(system: System) -> None:
    valid = {"email": "ada@example.com", "name": "Ada", "password": "correct horse battery"}
    for field, value in (
        ("email", 7),
        ("email", "not an email"),
        ("name", ["Ada"]),
        ("password", None),
    ):
        response = system.http.post("/v1/signup", json={**valid, field: value})
        error = assert_error(response, 422, "invalid_request")
        assert field in error["message"]
        assert [f["field"] for f in error["fields"]] == [field]


def test_unknown_fields_are_422(system: System) -> None:
    body = {
        "email": "ada@example.com",
        "name": "Ada",
        "password": "correct horse battery",
        "is_support": True,
    }

    error = assert_error(system.http.post("/v1/signup", json=body), 422, "invalid_request")

    assert "is_support" in error["message"]
    # Nothing was created.
    signed_in = system.http.post(
        "/v1/sessions", json={"email": "ada@example.com", "password": "correct horse battery"}
    )
    assert_error(signed_in, 401, "invalid_credentials")


def test_nul_characters_in_text_are_422_not_a_server_error(system: System) -> None:
    """Found by the fuzzer: PostgreSQL text cannot hold NUL, which was a 500 there."""
    owner = system.sign_up("Ada")
    response = system.http.post(
        f"/v1/teams/{owner['team']['id']}/custom-models",
        json={"name": "tuned\x00", "base_model": "base"},
        headers=owner["headers"],
    )

    error = assert_error(response, 422, "invalid_request")
    assert "name" in error["message"]


def test_missing_fields_are_422(system: System) -> None:
    error = assert_error(
        system.http.post("/v1/signup", json={"email": "ada@example.com"}), 422, "invalid_request"
    )
    assert {f["field"] for f in error["fields"]} == {"name", "password"}

    assert_error(system.http.post("/v1/sessions", json={}), 422, "invalid_request")


def test_a_body_that_is_not_an_object_is_422(system: System) -> None:
    bodies: list[object] = [[], "ada@example.com", 42]
    for body in bodies:
        assert_error(system.http.post("/v1/signup", json=body), 422, "invalid_request")


def test_rule_breaking_values_are_422_with_their_own_code(system: System) -> None:
    body = {"email": "ada@example.com", "name": "Ada", "password": "short"}

    assert_error(system.http.post("/v1/signup", json=body), 422, "weak_password")


def test_unknown_route_is_404_json(system: System) -> None:
    for path in ("/v1/nothing-here", "/v1", "/v2/teams"):  # "/" is the web console's start page
        assert_error(system.http.get(path), 404, "not_found")


def test_wrong_method_is_405_json_naming_the_allowed_ones(system: System) -> None:
    response = system.http.put("/v1/me")

    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"
    assert_error(system.http.get("/v1/signup"), 405, "method_not_allowed")


def test_missing_or_unknown_bearer_token_is_401_json(system: System) -> None:
    ada = system.sign_up("Ada")
    team = f"/v1/teams/{ada['team']['id']}"
    for headers in (
        {},
        {"Authorization": "Bearer tks_not_a_real_token"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {ada['token']}"},
        {"Authorization": ada["token"]},
    ):
        for path in ("/v1/me", team, f"{team}/members", f"{team}/events"):
            response = system.http.get(path, headers=headers)
            assert_error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"] == "Bearer"


def test_probes_say_the_process_is_up_and_its_dependencies_answer(system: System) -> None:
    health = system.http.get("/healthz")
    ready = system.http.get("/readyz")

    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": True, "schema": True, "broker": True},
    }


def operations(system: System) -> dict[tuple[str, str], dict[str, Any]]:
    spec = system.http.get("/openapi.json").json()
    return {
        (method.upper(), path): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }


def error_schema(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def test_every_documented_error_response_has_the_error_body(system: System) -> None:
    for (method, path), operation in operations(system).items():
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or path == "/readyz":
                continue
            assert error_schema(response) == "ErrorBody", f"{method} {path} {status}"
    # ... and every schema the document refers to is defined in it.
    document = system.http.get("/openapi.json")
    defined = set(document.json()["components"]["schemas"])
    referred = set(re.findall(r'"#/components/schemas/([^"]+)"', document.text))
    assert referred and referred <= defined, referred - defined


def test_every_route_lists_the_errors_it_can_answer(system: System) -> None:
    for (method, path), operation in operations(system).items():
        statuses = set(operation["responses"])
        where = f"{method} {path}: {sorted(statuses)}"
        if path in ("/healthz", "/openapi.json", "/docs", "/redoc"):
            continue
        # Any route but the liveness probe may find a dependency down, and says when to retry.
        assert "Retry-After" in operation["responses"]["503"].get("headers", {}), where
        if path == "/readyz":
            continue
        assert any(s.startswith("4") for s in statuses), where
        if operation.get("security"):
            assert "401" in statuses, where
        if "requestBody" in operation:
            assert {"400", "422"} <= statuses, where
        if operation.get("parameters"):
            assert "422" in statuses, where
        if path.startswith("/v1/teams/{team_id}"):
            assert "404" in statuses, where


def test_routes_document_the_errors_docs_api_md_gives_them(system: System) -> None:
    """Every status docs/api.md writes for a route is in the served OpenAPI document, with 401
    where a session or key is needed, 403 where a verified session or a role is, and 404 under
    a team."""
    served = operations(system)
    for endpoint in documented_endpoints():
        operation = served[(endpoint.method, endpoint.path)]
        statuses = set(operation["responses"])
        expected = set(re.findall(r"\b([45]\d\d)\b", endpoint.answers))
        if endpoint.who not in PUBLIC:
            expected.add("401")
        if endpoint.who not in WITHOUT_VERIFIED_SESSION:
            expected.add("403")
        if endpoint.path.startswith("/v1/teams/{team_id}"):
            expected.add("404")
        where = f"{endpoint.method} {endpoint.path}"
        assert expected <= statuses, f"{where} documents {sorted(statuses)}"


def test_an_unverified_session_is_refused_where_docs_api_md_asks_for_a_verified_one(
    system: System,
) -> None:
    """What the test above takes from docs/api.md's "who" column holds for the code: every
    route it gives to verified sessions only refuses an unverified one with 403
    ``email_not_verified`` (so the OpenAPI document must list 403 there)."""
    signed_up = system.http.post(
        "/v1/signup",
        json={"email": "unproven@example.com", "name": "Una", "password": PASSWORD},
    )
    assert signed_up.status_code == 201, signed_up.text
    unverified = {"Authorization": f"Bearer {signed_up.json()['token']}"}
    team = signed_up.json()["team"]["id"]
    refused = []
    for endpoint in documented_endpoints():
        if endpoint.who in WITHOUT_VERIFIED_SESSION:
            continue
        path = re.sub(r"\{(\w+)\}", lambda p: team if p[1] == "team_id" else "x", endpoint.path)
        body: dict[str, str] | None = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
        answer = system.http.request(endpoint.method, path, json=body, headers=unverified)
        assert_error(answer, 403, "email_not_verified")
        refused.append(f"{endpoint.method} {endpoint.path}")
    assert {"GET /v1/teams/{team_id}", "GET /v1/me/sessions"} <= set(refused)


def test_an_address_holding_a_nul_is_404_json(system: System) -> None:
    """No id holds a NUL; PostgreSQL would refuse one in a query (a 500 before)."""
    owner = system.sign_up("Ada")
    answer = system.http.get(
        f"/v1/teams/{owner['team']['id']}/api-keys/key_x%00", headers=owner["headers"]
    )
    assert_error(answer, 404, "not_found")
