"""Abuse limits (docs/product.md "Abuse limits"): what is counted and per what. The counting itself
is infrastructure's (``infra.ratelimits``, a maintained rate-limiting library); use cases
ask through :class:`RateLimits`, so the API and the pages refuse alike."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Limit(enum.StrEnum):
    """Each limit; its rate is the setting ``TEAMKEYS_LIMIT_<NAME>`` (e.g. ``5/15 minutes``)."""

    #: Failed sign-ins for one email from one address: a guesser is slowed, while the person
    #: whose email it is still signs in from their own address (no lock-out a stranger causes).
    SIGN_IN_PER_EMAIL_IP = "sign_in_per_email_ip"
    #: Failed sign-ins from one address, whatever the email (password spraying).
    SIGN_IN_PER_IP = "sign_in_per_ip"
    SIGN_UP_PER_IP = "sign_up_per_ip"
    SIGN_UP_PER_EMAIL = "sign_up_per_email"
    VERIFICATION_PER_IP = "verification_per_ip"
    VERIFICATION_PER_EMAIL = "verification_per_email"
    PASSWORD_RESET_PER_IP = "password_reset_per_ip"  # noqa: S105 - a name, not a secret
    PASSWORD_RESET_PER_EMAIL = "password_reset_per_email"  # noqa: S105 - a name
    MIGRATION_TICKETS_PER_TEAM = "migration_tickets_per_team"
    MIGRATION_TICKETS_PER_EMAIL = "migration_tickets_per_email"

    @property
    def setting(self) -> str:
        """The name of the setting that holds this limit's rate."""
        return f"limit_{self.value}"


@dataclass(frozen=True)
class Refusal:
    """What a person is told when a limit refuses them: an error code and a sentence."""

    code: str
    message: str


#: One sentence per limit; "{wait}" becomes the seconds until it frees up.
REFUSALS: dict[Limit, Refusal] = {
    Limit.SIGN_IN_PER_EMAIL_IP: Refusal(
        "too_many_attempts", "Too many failed sign-ins for this email; try again in {wait} s."
    ),
    Limit.SIGN_IN_PER_IP: Refusal(
        "too_many_attempts", "Too many failed sign-ins from your address; try again in {wait} s."
    ),
    Limit.SIGN_UP_PER_IP: Refusal(
        "too_many_sign_ups", "Too many sign-ups from your address; try again in {wait} s."
    ),
    Limit.SIGN_UP_PER_EMAIL: Refusal(
        "too_many_sign_ups", "Too many sign-ups with this email; try again in {wait} s."
    ),
    Limit.VERIFICATION_PER_IP: Refusal(
        "too_many_emails",
        "Too many verification emails asked for from your address; try again in {wait} s.",
    ),
    Limit.VERIFICATION_PER_EMAIL: Refusal(
        "too_many_emails",
        "Too many verification emails sent to this address; try again in {wait} s.",
    ),
    Limit.PASSWORD_RESET_PER_IP: Refusal(
        "too_many_emails",
        "Too many password resets asked for from your address; try again in {wait} s.",
    ),
    Limit.PASSWORD_RESET_PER_EMAIL: Refusal(
        "too_many_emails",
        "Too many password resets asked for this email; try again in {wait} s.",
    ),
    Limit.MIGRATION_TICKETS_PER_TEAM: Refusal(
        "ticket_limit",
        "This team has opened as many migration tickets as it may for now; try again in {wait} s.",
    ),
    Limit.MIGRATION_TICKETS_PER_EMAIL: Refusal(
        "ticket_limit",
        "This person has been asked to move teams as often as they may be for now; try again "
        "in {wait} s.",
    ),
}


class RateLimits(Protocol):
    """Counts events per limit and key; both calls raise :class:`domain.errors.Throttled`
    (429 with ``Retry-After``) when the limit is used up for that key."""

    def check(self, limit: Limit, *key: str) -> None:
        """Refuse if the limit is used up for ``key``; counts nothing."""

    def hit(self, limit: Limit, *key: str) -> None:
        """Count one event for ``key``; refuse (counting nothing) if the limit is used up."""
