"""The payment method: owners store a provider's reference and display fields, never a card."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from domain.audit import record_event
from domain.clock import utcnow
from domain.errors import InvalidInput, NotFound
from domain.models import Account, PaymentMethod
from domain.permissions import Permission
from domain.teams import authorize, authorize_locked

#: A run of digits, whatever separates them (spaces, dashes, dots, slashes, underscores...):
#: letters end a run, anything else between two digits does not.
_DIGIT_RUN = re.compile(r"\d(?:[^0-9A-Za-z]*\d)*")


@dataclass(frozen=True)
class CardOnFile:
    billing_email: str
    provider_token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def set_payment_method(
    session: Session, actor: Account, team_id: str, card: CardOnFile
) -> PaymentMethod:
    # Locked: of two first PUTs at once, one inserts and the other then updates.
    authorize_locked(session, actor, team_id, Permission.PAYMENT_MANAGE)
    for field, value in (
        ("billing_email", card.billing_email),
        ("provider_token", card.provider_token),
        ("brand", card.brand),
        ("last4", card.last4),
    ):
        if holds_card_number(value):
            raise InvalidInput(
                f"{field} looks like a card number. Send the payment provider's token; "
                "teamkeys never accepts card numbers.",
                code="card_number_refused",
            )
    now = utcnow()
    if (card.exp_year, card.exp_month) < (now.year, now.month):
        raise InvalidInput(
            "The card has expired (exp_month/exp_year are in the past).", code="card_expired"
        )
    method = session.get(PaymentMethod, team_id, with_for_update=True)
    if method is None:
        method = PaymentMethod(team_id=team_id)
        session.add(method)
    method.billing_email = card.billing_email.strip().lower()
    method.provider_token = card.provider_token
    method.brand = card.brand
    method.last4 = card.last4
    method.exp_month, method.exp_year = card.exp_month, card.exp_year
    method.updated_at, method.updated_by = now, actor.id
    record_event(
        session,
        team_id=team_id,
        actor_id=actor.id,
        action="payment_method.updated",
        target=team_id,
        details={"brand": card.brand, "last4": card.last4},
    )
    return method


def holds_card_number(text: str) -> bool:
    """Whether ``text`` holds a run of 12 to 19 digits that passes the Luhn check, whatever
    separates the digits (``4242 4242…``, ``4242.4242…``, ``4242/4242…``)."""
    for run in _DIGIT_RUN.finditer(text):
        # A card number may sit among other numbers in a run ("4242 4242 4242 4242 12/30"):
        # try each stretch of whole digit groups that is long enough to be one.
        groups = re.findall(r"\d+", run.group())
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > 19:
                    break
                if len(digits) >= 12 and luhn_valid([int(d) for d in digits]):
                    return True
    return False


def luhn_valid(digits: list[int]) -> bool:
    """The Luhn checksum every payment card number carries."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def get_payment_method(session: Session, actor: Account, team_id: str) -> PaymentMethod:
    authorize(session, actor, team_id, Permission.PAYMENT_MANAGE)
    method = session.get(PaymentMethod, team_id)
    if method is None:
        raise NotFound("No payment method on file.", code="no_payment_method")
    return method
