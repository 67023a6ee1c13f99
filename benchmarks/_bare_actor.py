"""The baseline for benchmarks.invitation_pipeline: a bare Dramatiq actor that renders the same
invitation email and sends it through the same SMTP sink with aiosmtplib, on one connection per
worker thread, each reused across messages, and nothing else: no database, no outbox. With
``--processes P --threads T`` it sends up to P x T emails at once, which is what a mail relay
that takes a while per message allows.

The floor (``benchmarks._floor``) sends the same email with :func:`send_email`: one connection
per process behind an asyncio.Lock, on Dramatiq's event loop, as it always has, so its figures
stay comparable across runs.

    dramatiq benchmarks._bare_actor  (BENCH_REDIS_URL, BENCH_NAMESPACE, BENCH_SMTP_PORT)
"""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO

from infra.mail.message import build_message, message_id_for
from infra.mail.render import EmailRenderer, templates_root

QUEUE = "bare_invitations"

broker = RedisBroker(  # type: ignore[no-untyped-call]
    url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    namespace=os.environ.get("BENCH_NAMESPACE", "teamkeys-bench-bare"),
)
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)

_renderer = EmailRenderer(templates_root())
_smtp: aiosmtplib.SMTP | None = None
_lock: asyncio.Lock | None = None
#: Each worker thread's own event loop and SMTP connection.
_thread = threading.local()


def invitation_context(to_address: str) -> dict[str, object]:
    """What the real invitation email is rendered with (see domain.invitations)."""
    return {
        "team_name": "Olive's Team",
        "inviter_name": "Olive",
        "inviter_email": "olive@example.com",
        "role": "user",
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).strftime("%d %B %Y at %H:%M UTC"),
        "reason": "Olive (olive@example.com) invited this address to Olive's Team on "
        "teamkeys. If you did not expect it, ignore this email.",
        "recipient_name": to_address,
        "accept_url": f"https://app.teamkeys.test/invitations/inv_{'x' * 43}",
        "public_url": "https://app.teamkeys.test",
    }


def invitation_message(to_address: str) -> EmailMessage:
    """The invitation for ``to_address``, rendered and built as teamkeys does."""
    rendered = _renderer.render("invitation", invitation_context(to_address))
    return build_message(
        rendered,
        sender_name="teamkeys",
        sender_address="no-reply@teamkeys.localhost",
        to_name=to_address,
        to_address=to_address,
        message_id=message_id_for(f"bare:{to_address}", "teamkeys.localhost"),
        headers={"X-Teamkeys-Email": "invitation"},
    )


def _new_connection() -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname="127.0.0.1", port=int(os.environ["BENCH_SMTP_PORT"]), timeout=10
    )


async def send_email(to_address: str) -> None:
    """Render the invitation for ``to_address`` and send it on this process's connection."""
    global _smtp, _lock
    message = invitation_message(to_address)
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _smtp is None or not _smtp.is_connected:
            _smtp = _new_connection()
            await _smtp.connect()
        await _smtp.send_message(message)


async def _send_on_this_thread(message: EmailMessage) -> None:
    smtp: aiosmtplib.SMTP | None = getattr(_thread, "smtp", None)
    if smtp is None or not smtp.is_connected:
        smtp = _thread.smtp = _new_connection()
        await smtp.connect()
    await smtp.send_message(message)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def send_invitation_email(to_address: str) -> None:
    """Render the invitation and send it on this worker thread's own connection."""
    message = invitation_message(to_address)
    loop: asyncio.AbstractEventLoop | None = getattr(_thread, "loop", None)
    if loop is None:
        loop = _thread.loop = asyncio.new_event_loop()
    loop.run_until_complete(_send_on_this_thread(message))
