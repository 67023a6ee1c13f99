"""The authorization matrix end to end (issue 8): every team route of docs/api.md and every support
route, called as anonymous, outsider, user, owner and support agent, each answer held against
the permission table in code (``domain.permissions.MATRIX``, itself held to docs/product.md by
tests/unit/test_permissions.py).

Expected answers, per cell:

* anonymous → 401;
* unverified (an owner of the team who has not proven their email) → 403
  ``email_not_verified``, on every route;
* outsider (signed in, member of another team) → 404 on team routes (never learn the team
  exists), 403 on support routes;
* a caller the rule allows → neither 401, 403 nor 404 (2xx, or a domain refusal like 409/410);
* a caller the rule refuses → 403 ``not_allowed``.

Rules are a :class:`Permission` of the matrix, or, where docs/api.md says more than the matrix:
``MEMBER`` (invitation list, production application: members yes, support agents 403) and
``CREATOR`` (revealing a production key: its creator only).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from domain.models import Invoice, Membership, ProductionApplication
from domain.permissions import MATRIX, Actor, Permission, allows
from tests.conftest import System, running_system
from tests.e2e.conftest import AGENT_PASSWORD, run_add_agent
from tests.faulty_sink import FaultySink
from tests.support import Backend, empty_database, wait_until
from tests.support import test_settings as settings_for_tests

MEMBER = "member"
#: Reveal a production key; ``created_by`` in the route's set-up names its creator.
CREATOR = "creator"
Rule = Permission | str

CALLERS = ("anonymous", "unverified", "outsider", "user", "owner", "support")
_names = itertools.count(1)


@dataclass
class World:
    """One running system with a team (owner + user), an outsider and a support agent."""

    system: System
    owner: dict[str, Any]
    user: dict[str, Any]
    outsider: dict[str, Any]
    support: dict[str, Any]
    unverified: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def team_id(self) -> str:
        return str(self.owner["team"]["id"])

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        person: dict[str, Any] = getattr(self, caller)
        return dict(person["headers"])

    def ok(self, method: str, path: str, json: Any = None, who: str = "owner") -> Any:
        response = self.system.http.request(
            method, path.format(team_id=self.team_id), json=json, headers=self.headers(who)
        )
        assert response.status_code < 300, f"set-up {method} {path}: {response.text}"
        return response.json() if response.content else None


Setup = Callable[[World], None]


def nothing(_world: World) -> None:
    pass


def fresh_email() -> str:
    return f"someone.{next(_names)}@example.com"


def third_member(world: World) -> None:
    world.params["account_id"] = world.system.join(world.team_id, "Tess Third")["account"]["id"]


def invitation(world: World) -> None:
    body = world.ok(
        "POST", "/v1/teams/{team_id}/invitations", {"email": fresh_email(), "role": "user"}
    )
    world.params["invitation_id"] = body["id"]


def key(kind: str, created_by: str = "owner") -> Setup:
    def make(world: World) -> None:
        if kind == "production":
            world.system.approve_for_production(world.team_id)
        body = world.ok(
            "POST", "/v1/teams/{team_id}/api-keys", {"name": "k", "kind": kind}, created_by
        )
        world.params["key_id"] = body["id"]
        wait_until(
            lambda: (
                world.ok("GET", f"/v1/teams/{{team_id}}/api-keys/{body['id']}")["status"]
                == "active"
            ),
            what="the key to be generated",
        )

    return make


def approved(world: World) -> None:
    world.system.approve_for_production(world.team_id)


def custom_model(world: World) -> None:
    body = world.ok(
        "POST", "/v1/teams/{team_id}/custom-models", {"name": "tuned", "base_model": "base"}
    )
    world.params["model_id"] = body["id"]


def invoice(world: World) -> None:
    with world.system.runtime.db.unit_of_work() as uow:
        made = Invoice(
            team_id=world.team_id, period="2026-01", currency="USD", total_cents=0, lines=[]
        )
        uow.session.add(made)
        uow.commit()
        world.params["invoice_id"] = made.id


PAYMENT = {
    "billing_email": "billing@example.com",
    "provider_token": "tok_visa",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2099,
}
APPLICATION = {
    "company_name": "Acme",
    "website": "https://acme.example.com",
    "use_case": "We summarise customer support conversations for our agents, every day.",
    "expected_monthly_requests": 1000,
    "contact_email": "ops@acme.example.com",
    "accept_terms": True,
}


def payment_method(world: World) -> None:
    world.ok("PUT", "/v1/teams/{team_id}/payment-method", PAYMENT)


def application(world: World) -> None:
    world.ok("PUT", "/v1/teams/{team_id}/production-application", APPLICATION)
    with world.system.runtime.db.unit_of_work() as uow:
        found = uow.session.scalar(
            select(ProductionApplication.id).where(ProductionApplication.team_id == world.team_id)
        )
        assert found is not None
        world.params["application_id"] = found


def migration_ticket(world: World) -> None:
    elsewhere = world.system.sign_up("Mia Elsewhere")
    body = world.ok(
        "POST",
        "/v1/teams/{team_id}/migration-tickets",
        {"email": elsewhere["account"]["email"], "role": "user", "note": "joining us"},
    )
    world.params["ticket_id"] = body["id"]


def existing_account(world: World) -> None:
    world.params["email"] = world.system.sign_up("Ned Elsewhere")["account"]["email"]


def unverified_owner(system: System, team_id: str) -> dict[str, Any]:
    """Someone who signed up over HTTP and never opened the emailed link, seated as an owner of
    ``team_id`` (which an unverified account can never become: the strongest case)."""
    response = system.http.post(
        "/v1/signup",
        json={
            "email": fresh_email(),
            "name": "Una Unverified",
            "password": "correct horse battery",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    with system.runtime.db.unit_of_work() as uow:
        membership = uow.session.get(Membership, body["account"]["id"])
        assert membership is not None
        membership.team_id, membership.role = team_id, "owner"
        uow.commit()
    return {"headers": {"Authorization": f"Bearer {body['token']}"}}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    rule: Rule
    body: Callable[[World], Any] | None = None
    setup: Setup = nothing
    created_by: str = "owner"

    @property
    def support_route(self) -> bool:
        return self.path.startswith("/v1/support/")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


T = "/v1/teams/{team_id}"
ROUTES = [
    Route("GET", T, Permission.TEAM_VIEW),
    Route("GET", T + "/members", Permission.TEAM_VIEW),
    Route(
        "PATCH",
        T + "/members/{account_id}",
        Permission.MEMBERS_MANAGE,
        lambda w: {"role": "owner"},
        third_member,
    ),
    Route("DELETE", T + "/members/{account_id}", Permission.MEMBERS_MANAGE, None, third_member),
    Route("GET", T + "/events", Permission.EVENTS_VIEW),
    Route(
        "POST",
        T + "/invitations",
        Permission.INVITATIONS_MANAGE,
        lambda w: {"email": fresh_email(), "role": "user"},
    ),
    Route("GET", T + "/invitations", MEMBER),
    Route(
        "POST",
        T + "/invitations/{invitation_id}/resend",
        Permission.INVITATIONS_MANAGE,
        None,
        invitation,
    ),
    Route(
        "DELETE",
        T + "/invitations/{invitation_id}",
        Permission.INVITATIONS_MANAGE,
        None,
        invitation,
    ),
    Route(
        "POST", T + "/api-keys", Permission.TRIAL_KEYS_USE, lambda w: {"name": "t", "kind": "trial"}
    ),
    Route(
        "POST",
        T + "/api-keys",
        Permission.PRODUCTION_KEYS_CREATE,
        lambda w: {"name": "p", "kind": "production"},
        approved,
    ),
    Route("GET", T + "/api-keys", Permission.PRODUCTION_KEYS_VIEW, None, key("production")),
    Route("GET", T + "/api-keys/{key_id}", Permission.TRIAL_KEYS_USE, None, key("trial")),
    Route("POST", T + "/api-keys/{key_id}/reveal", Permission.TRIAL_KEYS_USE, None, key("trial")),
    Route("POST", T + "/api-keys/{key_id}/reveal", CREATOR, None, key("production", "owner")),
    Route(
        "POST",
        T + "/api-keys/{key_id}/reveal",
        CREATOR,
        None,
        key("production", "user"),
        created_by="user",
    ),
    Route(
        "PATCH",
        T + "/api-keys/{key_id}",
        Permission.TRIAL_KEYS_USE,
        lambda w: {"name": "renamed"},
        key("trial"),
    ),
    Route(
        "PATCH",
        T + "/api-keys/{key_id}",
        Permission.PRODUCTION_KEYS_MANAGE,
        lambda w: {"name": "renamed"},
        key("production"),
    ),
    Route("DELETE", T + "/api-keys/{key_id}", Permission.TRIAL_KEYS_DELETE, None, key("trial")),
    Route(
        "DELETE",
        T + "/api-keys/{key_id}",
        Permission.PRODUCTION_KEYS_MANAGE,
        None,
        key("production"),
    ),
    Route("PUT", T + "/production-application", Permission.PRODUCTION_APPLY, lambda w: APPLICATION),
    Route("GET", T + "/production-application", MEMBER, None, application),
    Route(
        "POST",
        T + "/migration-tickets",
        Permission.MIGRATION_REQUEST,
        lambda w: {"email": w.params["email"], "role": "user", "note": "please"},
        existing_account,
    ),
    Route("GET", T + "/migration-tickets", Permission.MIGRATION_REQUEST),
    Route(
        "DELETE",
        T + "/migration-tickets/{ticket_id}",
        Permission.MIGRATION_REQUEST,
        None,
        migration_ticket,
    ),
    Route(
        "POST",
        T + "/custom-models",
        Permission.CUSTOM_MODELS_MANAGE,
        lambda w: {"name": "m", "base_model": "base"},
    ),
    Route("GET", T + "/custom-models", Permission.CUSTOM_MODELS_MANAGE),
    Route(
        "DELETE",
        T + "/custom-models/{model_id}",
        Permission.CUSTOM_MODELS_MANAGE,
        None,
        custom_model,
    ),
    Route("GET", T + "/usage", Permission.USAGE_VIEW),
    Route("GET", T + "/invoices", Permission.INVOICES_VIEW),
    Route("GET", T + "/invoices/{invoice_id}", Permission.INVOICES_VIEW, None, invoice),
    Route("GET", T + "/invoices/{invoice_id}/pdf", Permission.INVOICES_VIEW, None, invoice),
    Route("GET", T + "/payment-method", Permission.PAYMENT_MANAGE, None, payment_method),
    Route("PUT", T + "/payment-method", Permission.PAYMENT_MANAGE, lambda w: PAYMENT),
    # Support routes: the matrix's "settle migration tickets; decide manual production reviews".
    Route("GET", "/v1/support/emails", Permission.SUPPORT_SETTLE),
    Route("GET", "/v1/support/migration-tickets", Permission.SUPPORT_SETTLE),
    Route(
        "GET",
        "/v1/support/migration-tickets/{ticket_id}",
        Permission.SUPPORT_SETTLE,
        None,
        migration_ticket,
    ),
    Route(
        "POST",
        "/v1/support/migration-tickets/{ticket_id}/approve",
        Permission.SUPPORT_SETTLE,
        lambda w: {"note": "checked"},
        migration_ticket,
    ),
    Route(
        "POST",
        "/v1/support/migration-tickets/{ticket_id}/reject",
        Permission.SUPPORT_SETTLE,
        lambda w: {"reason": "no"},
        migration_ticket,
    ),
    Route("GET", "/v1/support/production-applications", Permission.SUPPORT_SETTLE),
    Route(
        "POST",
        "/v1/support/production-applications/{application_id}/approve",
        Permission.SUPPORT_SETTLE,
        lambda w: {"reason": "fine"},
        application,
    ),
    Route(
        "POST",
        "/v1/support/production-applications/{application_id}/reject",
        Permission.SUPPORT_SETTLE,
        lambda w: {"reason": "no"},
        application,
    ),
]


def allowed(route: Route, caller: str) -> bool:
    """Whether the rule lets ``caller`` (a member's role, or support) do it."""
    actor = Actor(caller)
    if route.rule == MEMBER:
        return actor in (Actor.USER, Actor.OWNER)
    if route.rule == CREATOR:
        return caller == route.created_by and allows(actor, Permission.PRODUCTION_KEYS_REVEAL_OWN)
    assert isinstance(route.rule, Permission)
    return actor in MATRIX[route.rule]


def expected(route: Route, caller: str) -> str:
    if caller == "anonymous":
        return "401"
    if caller == "unverified":
        return "403 email_not_verified"
    if caller == "outsider":
        return "403" if route.support_route else "404"
    return "allowed" if allowed(route, caller) else "403"


def test_every_permission_of_the_matrix_is_exercised() -> None:
    """Leaving the team (DELETE of one's own membership) is tested in test_teams.py."""
    used = {route.rule for route in ROUTES} | {Permission.PRODUCTION_KEYS_REVEAL_OWN}  # CREATOR
    assert CREATOR in {route.rule for route in ROUTES}
    assert set(Permission) - used == {Permission.TEAM_LEAVE}


@pytest.fixture(scope="module")
def shared(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """One running system for every cell: each cell makes its own team, members and outsider,
    so cells share nothing but the support agent."""
    empty_database(backend.database_url)
    with FaultySink() as sink:
        settings = settings_for_tests(
            backend,
            tmp_path_factory.mktemp("matrix"),
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
        )
        with running_system(settings, sink) as system:
            yield system


@pytest.fixture(scope="module")
def support_agent(shared: System) -> dict[str, Any]:
    email = "sam.matrix@support.teamkeys.test"
    assert run_add_agent(shared, email, "Sam") == 0
    signed_in = shared.http.post("/v1/sessions", json={"email": email, "password": AGENT_PASSWORD})
    assert signed_in.status_code == 201, signed_in.text
    return {"headers": {"Authorization": f"Bearer {signed_in.json()['token']}"}}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=[f"{r}#{i}" for i, r in enumerate(ROUTES)])
def test_authorization_matrix(
    shared: System, support_agent: dict[str, Any], route: Route, caller: str
) -> None:
    system = shared
    owner = system.sign_up("Olive Owner")
    world = World(
        system,
        owner=owner,
        user=system.join(owner["team"]["id"], "Uma User"),
        outsider=system.sign_up("Otto Outsider"),
        support=support_agent,
    )
    world.params["team_id"] = world.team_id
    if caller == "unverified":
        world.unverified = unverified_owner(system, world.team_id)
    route.setup(world)
    path = route.path.format(**world.params)
    body = route.body(world) if route.body else None
    response = system.http.request(route.method, path, json=body, headers=world.headers(caller))

    want = expected(route, caller)
    cell = f"{route} as {caller} (rule {route.rule}): expected {want}, got"
    got = f"{response.status_code} {response.text[:300]}"
    if want == "allowed":
        assert response.status_code not in (401, 403, 404), f"{cell} {got}"
        assert response.status_code < 500, f"{cell} {got}"
    else:
        status, _, code = want.partition(" ")
        assert response.status_code == int(status), f"{cell} {got}"
        if status == "403":
            assert response.json()["error"]["code"] == (code or "not_allowed"), f"{cell} {got}"
