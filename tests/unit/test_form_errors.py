"""Which field of a form a domain refusal is shown beside (``web.pages.fields_of``)."""

from __future__ import annotations

from domain.errors import InvalidInput, InvalidName, Throttled
from web.pages import form_error


def test_a_refusal_is_shown_beside_the_fields_its_code_is_about() -> None:
    weak = InvalidInput("Password must be at least 10 characters long.", code="weak_password")
    shown = form_error(weak)
    assert shown["error"] == weak.message and shown["code"] == "weak_password"
    assert shown["fields"]["password"] == shown["fields"]["new_password"] == weak.message
    assert form_error(InvalidName("Name must not be empty."))["fields"] == {
        "name": "Name must not be empty."
    }


def test_a_message_naming_one_of_the_forms_fields_is_shown_beside_it() -> None:
    card = InvalidInput("last4 looks like a card number.", code="card_number_refused")
    assert form_error(card, ("brand", "last4"))["fields"] == {"last4": card.message}
    assert form_error(card)["fields"] == {}  # a form that names no such field: above it only


def test_a_refusal_about_the_whole_form_is_shown_above_it_only() -> None:
    limited = Throttled("Too many attempts.", retry_after=30)
    assert form_error(limited) == {
        "error": "Too many attempts.",
        "code": "rate_limited",
        "fields": {},
        "retry_after": 30,
    }
