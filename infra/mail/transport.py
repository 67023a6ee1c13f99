"""Deliver built messages over SMTP through a pool of reused connections, one per worker thread
that sends at once.

A mail relay takes tens to hundreds of milliseconds to answer a message, so one connection per
process (as this transport had) caps a process at one email per round trip whatever its worker
threads. The transport keeps a pool instead: a send takes an idle connection, or opens one if
every open connection is busy and the pool is not full, and gives it back when the server has
answered. The pool is bounded by ``connections`` (``TEAMKEYS_SMTP_CONNECTIONS``); 0 bounds it by
the callers alone. Only worker threads send, each one message at a time, so with 0 a process
never holds more connections than its threads, and needs no telling how many Dramatiq gave it
(``teamkeys worker --threads`` decides that after the runtime is built).

Why a pool on one event loop rather than a connection per thread: every connection lives on the
transport's one loop thread, so a send keeps its bound (a timeout, then cancellation on that
loop), ``close`` can QUIT every connection at once from one place, a thread that rarely sends
holds no connection, and an operator can set fewer connections than threads when a relay limits
connections per client.

What stays as it was: each connection is reused across messages; a failure closes and forgets
the connection it happened on; the one retry is the dropped idle connection (the server hung up
between messages, which it may do without notice), sent again once on a fresh connection; every
other failure is classified (``_classify``) and never retried here, so a message the server may
have taken is not sent twice by the transport.
"""

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


class _Pool:
    """The connections of one event loop: idle ones, and how many sends are under way. Used
    only on that loop's thread, so it needs no lock of its own."""

    def __init__(self, size: int) -> None:
        #: Most recently used last, and taken first: the others may go stale and be dropped.
        self.idle: list[aiosmtplib.SMTP] = []
        #: Bounds connections in use at once; None: bounded by the callers alone.
        self.slots = asyncio.Semaphore(size) if size > 0 else None
        self.sending = 0
        self.closed = False
        self.quiet = asyncio.Event()
        self.quiet.set()


class SmtpTransport:
    """Sends through a pool of long-lived SMTP connections, since a handshake per email is
    slow and one connection sends one email at a time."""

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
        connections: int = 1,
    ) -> None:
        """``connections``: most SMTP connections open at once; 0 means as many as callers
        send at once (one per worker thread)."""
        if start_tls and use_tls:
            raise ValueError("start_tls and use_tls are mutually exclusive")
        if connections < 0:
            raise ValueError("connections must be 0 (one per sending thread) or more")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._use_tls = use_tls
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._connections = connections
        self._state_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool: _Pool | None = None

    def send(self, message: EmailMessage) -> None:
        """Block until the server accepted the message; safe to call from any thread."""
        loop, pool = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._deliver(message, pool), loop)
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
        """Say QUIT on every connection and stop the loop thread; a later send() starts
        afresh."""
        with self._state_lock:
            loop, thread, pool = self._loop, self._thread, self._pool
            self._loop = self._thread = self._pool = None
        if loop is None or thread is None or pool is None:
            return
        quitting = asyncio.run_coroutine_threadsafe(self._quit(pool), loop)
        try:
            quitting.result(timeout=self._timeout + 1)
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.debug("SMTP QUIT did not finish; dropping the connections")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=self._timeout)
        if not thread.is_alive():
            loop.close()

    def _running_loop(self) -> tuple[asyncio.AbstractEventLoop, _Pool]:
        """Start the background event loop on first use, so building a transport is free."""
        with self._state_lock:
            if self._loop is None or self._pool is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="teamkeys-smtp", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
                self._pool = _Pool(self._connections)
            return self._loop, self._pool

    async def _deliver(self, message: EmailMessage, pool: _Pool) -> None:
        """Send on a connection of the pool (waiting for one if it is full), and classify any
        failure."""
        if pool.closed:
            raise TransientMailError("SMTP transport closed before sending")
        pool.sending += 1
        pool.quiet.clear()
        try:
            if pool.slots is None:
                await self._deliver_on_a_connection(message, pool)
            else:
                async with pool.slots:
                    await self._deliver_on_a_connection(message, pool)
        finally:
            pool.sending -= 1
            if pool.sending == 0:
                pool.quiet.set()

    async def _deliver_on_a_connection(self, message: EmailMessage, pool: _Pool) -> None:
        """One SMTP transaction on a connection of its own: given back to the pool after the
        server's answer, closed and forgotten after any error."""
        client: aiosmtplib.SMTP | None = None
        try:
            client = await self._connected_client(pool)
            try:
                refused, _ = await client.send_message(message)
            except aiosmtplib.SMTPServerDisconnected:
                # Servers close idle connections without notice: retry once on a fresh one.
                log.debug("SMTP connection was dropped; reconnecting once")
                client.close()
                client = None
                client = await self._connect()
                refused, _ = await client.send_message(message)
        except asyncio.CancelledError:
            _close(client)
            raise
        except MailError:
            _close(client)
            raise
        except Exception as exc:
            _close(client)
            classified = _classify(exc)
            if classified is None:
                raise
            raise classified from exc
        if refused:
            # Only reachable with several recipients, some accepted: a retry would duplicate.
            log.warning(
                "SMTP server refused %d recipient(s) of %s",
                len(refused),
                message.get("Message-ID", "(no Message-ID)"),
            )
        pool.idle.append(client)

    async def _connected_client(self, pool: _Pool) -> aiosmtplib.SMTP:
        """The most recently used idle connection that is still open, or a new one."""
        while pool.idle:
            client = pool.idle.pop()
            if client.is_connected:
                return client
            client.close()
        return await self._connect()

    async def _connect(self) -> aiosmtplib.SMTP:
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
        return client

    async def _quit(self, pool: _Pool) -> None:
        """Close every connection politely, at once, after the sends in flight have ended."""
        pool.closed = True
        await pool.quiet.wait()
        idle, pool.idle = pool.idle, []
        await asyncio.gather(*(_quit_one(client) for client in idle))


async def _quit_one(client: aiosmtplib.SMTP) -> None:
    try:
        if client.is_connected:
            await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        log.debug("SMTP QUIT failed; closing anyway")
    finally:
        client.close()


def _close(client: aiosmtplib.SMTP | None) -> None:
    """Drop a connection after an error, so no later send inherits its state."""
    if client is not None:
        client.close()
