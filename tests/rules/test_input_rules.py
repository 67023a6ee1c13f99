"""What people may type, as rules: no links in the names that go into emails, no card number in
any payment field. One of each is refused over HTTP in tests/e2e/test_input_limits.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from domain import accounts, api_keys, custom_models, payments
from domain.errors import InvalidInput
from domain.models import Account, KeyKind, PaymentMethod
from infra.services import Services
from tests.conftest import PASSWORD
from tests.rules.conftest import People, refused
from tests.support import CARD, LINKS

#: Links dressed up: dots a browser reads as dots (ideographic, fullwidth, halfwidth, small, one
#: dot leader), fullwidth letters and slashes, spaces before a host's dot, a host not in ASCII.
DISGUISED_LINKS = [
    "evil\u3002example/login",
    "evil\uff0eexample/login",
    "evil\uff61example/login",
    "evil\ufe52example/login",
    "evil\u2024example/login",
    "confirm at evil .example/login",
    "confirm at evil . example/login",
    "evil.example\uff0flogin",
    "\uff48\uff54\uff54\uff50\uff53\uff1a\uff0f\uff0fevil",
    "visit www\u3002evil\u3002example",
    "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444/login",
    "evil.example:8080/login",
    "evil\u2027example/x",
    "evil\uff65example/x",
]
ORDINARY_NAMES = [
    "Ada Lovelace",
    "R&D team",
    "v1.2 beta",
    "Team A/B",
    "J.R.R.",
    "Dr. Smith",
    "J. R. R. Tolkien",
    "Acme Inc.",
    # A dot with spaces after it only ends an initial or a sentence, even before a slash.
    "Dr. Smith/Jones",
    "Acme Inc. R/D",
    "No. 5/6",
    # Checked after NFKC, kept as typed.
    "\uff34\uff45\uff41\uff4d \uff21",
]


def sign_up(session: Session, services: Services, name: str) -> Account:
    """``POST /v1/signup``'s work."""
    issued, _team = accounts.sign_up(
        session,
        services.passwords,
        services.limiter,
        services.account_policy,
        email="ada@example.com",
        name=name,
        password=PASSWORD,
        client=accounts.Client("127.0.0.1"),
    )
    session.commit()
    return issued.account


@pytest.mark.parametrize("name", LINKS + DISGUISED_LINKS)
def test_names_with_links_are_refused_wherever_people_choose_names(
    session: Session, services: Services, people: People, name: str
) -> None:
    with refused(session, InvalidInput, "name_has_link"):
        sign_up(session, services, name)
    ada = people.sign_up("Ada")
    team_id = people.team_of(ada)
    with refused(session, InvalidInput, "name_has_link"):
        api_keys.request_api_key(session, ada, team_id, name=name, kind=KeyKind.TRIAL)
    with refused(session, InvalidInput, "name_has_link"):
        custom_models.create_custom_model(
            session, ada, team_id, name=name, base_model="teamkeys-small"
        )


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_names_are_fine(session: Session, services: Services, name: str) -> None:
    assert sign_up(session, services, name).name == name


CARD_NUMBERS = [
    {"provider_token": "4242.4242.4242.4242"},
    {"provider_token": "4242/4242/4242/4242"},
    {"provider_token": "4242_4242_4242_4242"},
    {"provider_token": "4242,4242,4242,4242"},
    {"provider_token": "tok 378282246310005"},
    {"provider_token": "4242424242424242 12/30"},
    {"billing_email": "4242-4242-4242-4242@acme.example"},
]


def card_on_file(people: People, owner: Account, **changes: Any) -> PaymentMethod:
    """``PUT …/payment-method``'s work."""
    card = payments.CardOnFile(**CARD | changes)
    method = payments.set_payment_method(people.session, owner, people.team_of(owner), card)
    people.session.commit()
    return method


@pytest.mark.parametrize("changes", CARD_NUMBERS)
def test_a_card_number_is_refused_in_every_payment_field(
    session: Session, people: People, changes: dict[str, Any]
) -> None:
    ada = people.sign_up("Ada")
    with pytest.raises(InvalidInput) as raised:
        card_on_file(people, ada, **changes)
    assert raised.value.code == "card_number_refused"
    assert "4242" not in raised.value.message


def test_numbers_that_are_not_cards_are_fine(people: People) -> None:
    ada = people.sign_up("Ada")
    for token in ("pm_1234567890123456", "tok_2026-11-30_123456", "4242424242424241"):
        assert card_on_file(people, ada, provider_token=token).provider_token == token
