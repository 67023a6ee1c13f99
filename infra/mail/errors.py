"""Mail failures, split by whether a retry can help, so actors know when to give up."""

from __future__ import annotations


class MailError(Exception):
    """Base of every failure raised by the mail pipeline."""


class TransientMailError(MailError):
    """The email may succeed if retried later (server busy, down or unreachable)."""


class PermanentMailError(MailError):
    """The email will never succeed as it is; do not retry."""


class UnknownTemplate(PermanentMailError):
    """No email template by that name exists, so no retry can render it."""
