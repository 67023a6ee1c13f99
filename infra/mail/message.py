"""Wrap a rendered email in a MIME message that is safe to hand to any SMTP server."""

from __future__ import annotations

import email.policy
import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage

from infra.mail.errors import PermanentMailError
from infra.mail.render import RenderedEmail

#: Headers build_message owns; callers may not set them through `headers`.
_OWNED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "auto-submitted",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


def message_id_for(cause: str, domain: str) -> str:
    """Derive the Message-ID from the cause, so a resent duplicate can be dropped by receivers."""
    digest = hashlib.sha256(cause.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _one_line(value: str) -> str:
    """Turn control characters (CR, LF, NUL, ...) into spaces so a value can't add headers."""
    cleaned = "".join(
        " " if unicodedata.category(char) in {"Cc", "Zl", "Zp"} else char for char in value
    )
    return " ".join(cleaned.split())


def _address(display_name: str, addr_spec: str) -> Address:
    """Build a properly quoted address, refusing an addr-spec no retry could ever fix."""
    if _one_line(addr_spec) != addr_spec:
        raise PermanentMailError(f"invalid email address {addr_spec!r}")
    try:
        return Address(display_name=_one_line(display_name), addr_spec=addr_spec)
    except (ValueError, HeaderParseError) as exc:
        raise PermanentMailError(f"invalid email address {addr_spec!r}") from exc


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (an invoice's PDF, say)."""

    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def build_message(
    rendered: RenderedEmail,
    *,
    sender_name: str,
    sender_address: str,
    to_name: str,
    to_address: str,
    message_id: str,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """Build a multipart/alternative (text, then HTML) message with a stable Message-ID; with
    attachments, that inside a multipart/mixed with each file after it."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = _one_line(rendered.subject)
    message["From"] = _address(sender_name, sender_address)
    message["To"] = _address(to_name, to_address)
    message["Date"] = datetime.now(UTC)
    message["Message-ID"] = _one_line(message_id)
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        if not name or not name.isascii() or not name.isprintable() or ":" in name or " " in name:
            raise ValueError(f"invalid header name {name!r}")
        if name.lower() in _OWNED_HEADERS:
            raise ValueError(f"header {name!r} is set by build_message")
        message[name] = _one_line(value)
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=_one_line(attachment.filename),
        )
    return message
