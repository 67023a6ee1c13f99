"""The API key format: ``tk_<kind>_`` + 32 base62 characters (190 bits) + a 6-character
checksum. The prefix makes a leaked key recognisable (secret scanners can match it); the
checksum catches a typo or a made-up key before any database lookup."""

from __future__ import annotations

import re
import secrets
import zlib

from domain.models import KeyKind

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PREFIXES = {KeyKind.TRIAL: "tk_trial_", KeyKind.PRODUCTION: "tk_live_"}
BODY_LENGTH = 32  # 62**32 > 2**190
CHECKSUM_LENGTH = 6  # base62 of a CRC32 fits in 6 characters
_SHAPE = re.compile(rf"^tk_(trial|live)_[0-9A-Za-z]{{{BODY_LENGTH + CHECKSUM_LENGTH}}}$")


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(prefix: str, body: str) -> str:
    return _base62(zlib.crc32(f"{prefix}{body}".encode()), CHECKSUM_LENGTH)


def new_key(kind: KeyKind) -> str:
    prefix = PREFIXES[kind]
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return f"{prefix}{body}{_checksum(prefix, body)}"


def key_kind(raw: str) -> KeyKind | None:
    """The kind of a well-formed key whose checksum matches, else ``None`` (no lookup needed)."""
    if not _SHAPE.match(raw):
        return None
    for kind, prefix in PREFIXES.items():
        if raw.startswith(prefix):
            body = raw[len(prefix) : -CHECKSUM_LENGTH]
            if secrets.compare_digest(raw[-CHECKSUM_LENGTH:], _checksum(prefix, body)):
                return kind
    return None


def masked(kind: KeyKind, last4: str | None) -> str:
    """What listings show: the prefix and the last four characters, never more."""
    return f"{PREFIXES[kind]}…{last4 or '????'}"
