"""One exception tree for every refusal a person can meet; the API maps each kind to a status."""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse; carries a stable snake_case code and a message for a person."""

    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """The request is well-formed but a value breaks a rule (422)."""

    code = "invalid_input"


class InvalidRange(InvalidInput):
    """A range of dates that is reversed, too long, or outside the dates kept (422)."""

    code = "invalid_range"


class InvalidName(InvalidInput):
    """A name that is empty, too long, or holds control characters or a link (422)."""

    code = "invalid_name"


class InvalidOccurredAt(InvalidInput):
    """A usage call's time that cannot be read, lies ahead, or is too old to record (422)."""

    code = "invalid_occurred_at"


class Unauthenticated(DomainError):
    """No valid session or key was presented (401)."""

    code = "unauthenticated"


class InvalidCredentials(Unauthenticated):
    """Email and password do not match an account (401)."""

    code = "invalid_credentials"


class InvalidKey(Unauthenticated):
    """No API key was sent, or it is malformed, unknown or deleted (401)."""

    code = "invalid_key"


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does (404)."""

    code = "not_found"


class NotAllowed(DomainError):
    """The caller is a member but lacks the role for this action (403)."""

    code = "not_allowed"


class EmailNotVerified(NotAllowed):
    """An unverified account's session may only read ``/v1/me``, ask for a new verification
    link and sign out (403)."""

    code = "email_not_verified"


class Conflict(DomainError):
    """The action clashes with the current state (409)."""

    code = "conflict"


class LastOwner(Conflict):
    """The action would leave a team without an owner (invariant 2)."""

    code = "last_owner"


class EmailTaken(Conflict):
    """An account with this email already exists (invariant 1)."""

    code = "email_taken"


class AlreadyMember(Conflict):
    """The person is already a member of the team (409)."""

    code = "already_member"


class AccountExists(Conflict):
    """The person has an account already: they move teams through a migration ticket (409)."""

    code = "account_exists"


class InvitationClosed(Conflict):
    """The invitation was accepted, revoked, expired or failed: nothing more to do to it (409)."""

    code = "invitation_closed"


class NoSuchTicket(NotFound):
    """No such migration ticket, or not one the caller may see (404)."""

    code = "no_such_ticket"


class Gone(DomainError):
    """The thing existed but can no longer be used (410)."""

    code = "gone"


class LinkUnusable(Gone):
    """An emailed link that was replaced, never existed, or whose account is gone (410)."""

    code = "link_unusable"


class AlreadyRevealed(Gone):
    """A production key's secret was shown once already, or its window passed (410)."""

    code = "already_revealed"


class Throttled(DomainError):
    """Too many attempts; try again after ``retry_after`` seconds (429)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
