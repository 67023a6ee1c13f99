"""Deliver built messages over SMTP, reusing one connection across many worker threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from infra.mail.errors import MailError, PermanentMailError, TransientMailError

log = logging.getLogger(__name__)


class MailTransport(Protocol):
    """Where built messages go; SMTP in production, anything with `send` in tests."""

    def send(self, message: EmailMessage) -> None:
        """Deliver one message, or raise TransientMailError / PermanentMailError."""

    def close(self) -> None:
        """Release connections and threads; the transport is not used afterwards."""


def _by_code(code: int, detail: str) -> MailError:
    """Apply SMTP's own rule: 5xx will never work, 4xx (and anything odd) might later."""
    if 500 <= code < 600:
        return PermanentMailError(detail)
    return TransientMailError(detail)


def _classify(exc: Exception) -> MailError | None:
    """Map an aiosmtplib or socket failure onto retry-or-give-up; None means a bug."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        # Carries one error per refused recipient rather than a code of its own.
        codes = [refused.code for refused in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentMailError(f"recipients refused: {detail}")
        return TransientMailError(f"recipients refused: {detail}")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # Our credentials are wrong: an operator can fix that, so the email waits and retries.
        return TransientMailError(f"SMTP login refused: {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, f"SMTP server answered {exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        return PermanentMailError(f"message cannot be sent: {exc}")
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        # Disconnects, timeouts, refused connections: the server may be back later.
        return TransientMailError(f"SMTP connection failed: {exc}")
    return None


class SmtpTransport:
    """Sends through one long-lived SMTP connection, since a handshake per email is slow."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        use_tls: bool = False,
        timeout: float,
        local_hostname: str | None = None,
    ) -> None:
        if start_tls and use_tls:
            raise ValueError("start_tls and use_tls are mutually exclusive")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._use_tls = use_tls
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._state_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._send_lock: asyncio.Lock | None = None
        self._client: aiosmtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        """Block until the server accepted the message; safe to call from any thread."""
        loop, send_lock = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._deliver(message, send_lock), loop)
        try:
            future.result(timeout=self._timeout * 3 + 1)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TransientMailError(
                f"SMTP send did not finish within {self._timeout * 3 + 1:.1f}s"
            ) from None
        except concurrent.futures.CancelledError:
            raise TransientMailError("SMTP transport closed while sending") from None
        log.debug("sent message %s", message.get("Message-ID", "(no Message-ID)"))

    def close(self) -> None:
        """Say QUIT and stop the loop thread; a later send() starts afresh."""
        with self._state_lock:
            loop, thread, send_lock = self._loop, self._thread, self._send_lock
            self._loop = self._thread = self._send_lock = None
        if loop is None or thread is None or send_lock is None:
            return
        quitting = asyncio.run_coroutine_threadsafe(self._quit(send_lock), loop)
        try:
            quitting.result(timeout=self._timeout + 1)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.debug("SMTP QUIT did not finish; dropping the connection")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=self._timeout)
        if not thread.is_alive():
            loop.close()

    def _running_loop(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Lock]:
        """Start the background event loop on first use, so building a transport is free."""
        with self._state_lock:
            if self._loop is None or self._send_lock is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="teamkeys-smtp", daemon=True
                )
                thread.start()
                self._loop, self._thread, self._send_lock = loop, thread, asyncio.Lock()
            return self._loop, self._send_lock

    async def _deliver(self, message: EmailMessage, send_lock: asyncio.Lock) -> None:
        """Send under the lock (one SMTP transaction at a time) and classify any failure."""
        async with send_lock:
            try:
                await self._send_reconnecting_once(message)
            except asyncio.CancelledError:
                self._drop_client()
                raise
            except MailError:
                self._drop_client()
                raise
            except Exception as exc:
                self._drop_client()
                classified = _classify(exc)
                if classified is None:
                    raise
                raise classified from exc

    async def _send_reconnecting_once(self, message: EmailMessage) -> None:
        """Retry once on a fresh connection, since servers close idle ones without notice."""
        client = await self._connected_client()
        try:
            refused, _ = await client.send_message(message)
        except aiosmtplib.SMTPServerDisconnected:
            log.debug("SMTP connection was dropped; reconnecting once")
            self._drop_client()
            client = await self._connected_client()
            refused, _ = await client.send_message(message)
        if refused:
            # Only reachable with several recipients, some accepted: a retry would duplicate.
            log.warning(
                "SMTP server refused %d recipient(s) of %s",
                len(refused),
                message.get("Message-ID", "(no Message-ID)"),
            )

    async def _connected_client(self) -> aiosmtplib.SMTP:
        """Reuse the open connection, or open a new one if there is none or it died."""
        if self._client is not None and self._client.is_connected:
            return self._client
        self._drop_client()
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            use_tls=self._use_tls,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )
        await client.connect()
        self._client = client
        return client

    def _drop_client(self) -> None:
        """Forget the connection after any error so the next send starts clean."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def _quit(self, send_lock: asyncio.Lock) -> None:
        """Close politely once any send in flight has finished."""
        async with send_lock:
            client = self._client
            try:
                if client is not None and client.is_connected:
                    await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                log.debug("SMTP QUIT failed; closing anyway")
            finally:
                self._drop_client()
