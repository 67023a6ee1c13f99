"""A local SMTP server that keeps every email, for `teamkeys dev` and for the tests."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller

log = logging.getLogger("teamkeys.mailsink")

#: Greeting name; a fixed one spares aiosmtpd a `socket.getfqdn()` DNS lookup per connection.
SERVER_HOSTNAME = "localhost"


def _free_port(host: str) -> int:
    """Ask the OS for an unused port, since Controller needs a number up front."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _slug(subject: str) -> str:
    """Make a subject safe and short enough to name a file after."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")
    return slug[:40].rstrip("-") or "no-subject"


class _Handler:
    """aiosmtpd hooks; kept apart so MailSink's public surface stays small."""

    def __init__(self, sink: MailSink) -> None:
        self._sink = sink
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    def _greeted(self, session: Any) -> None:
        """Count each connection once, on its first HELO/EHLO (not Controller's probe)."""
        if session not in self._sessions:
            self._sessions.add(session)
            self._sink._connection_opened()

    async def handle_EHLO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Count the connection; answer as aiosmtpd would."""
        self._greeted(session)
        # With an EHLO hook, aiosmtpd leaves recording the greeting to the hook.
        session.host_name = hostname
        return responses

    async def handle_HELO(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, hostname: str
    ) -> str:
        """Count the connection; answer as aiosmtpd would."""
        self._greeted(session)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_QUIT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        """Count a client that took its leave politely; answer as aiosmtpd would."""
        self._sink._quit_said()
        return "221 Bye"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        return await self._sink.answer_data(server, envelope)


class MailSink:
    """Accepts all mail on a local port and keeps it in memory and, optionally, as .eml files."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, directory: Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.directory = directory
        self._condition = threading.Condition()
        self._messages: list[EmailMessage] = []
        self._connections = 0
        self._quits = 0
        self._saved = 0
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        """A snapshot of every message kept so far, oldest first."""
        with self._condition:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """How many SMTP sessions said HELO/EHLO, to check that clients reuse connections."""
        with self._condition:
            return self._connections

    @property
    def quits(self) -> int:
        """How many sessions said QUIT, to check that clients close every connection."""
        with self._condition:
            return self._quits

    def start(self) -> None:
        """Listen; the first start fixes the port, so a restart reuses it."""
        if self._controller is not None:
            raise RuntimeError("mail sink already running")
        if self.port == 0:
            self.port = _free_port(self.host)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        # Controller's loop is closed by stop(), so every start needs a new one.
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            server_hostname=SERVER_HOSTNAME,
            ready_timeout=5.0,
        )
        controller.start()
        self._controller = controller
        log.debug("mail sink listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Stop listening and drop open connections; kept messages stay readable."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], timeout: float = 10.0
    ) -> EmailMessage:
        """Block until a matching message has arrived, because delivery is asynchronous."""
        found: list[EmailMessage] = []

        def arrived() -> bool:
            found[:] = [m for m in self._messages if predicate(m)][:1]
            return bool(found)

        with self._condition:
            if not self._condition.wait_for(arrived, timeout=timeout):
                subjects = [str(m.get("Subject", "")) for m in self._messages]
                raise TimeoutError(
                    f"no matching email within {timeout:g}s; "
                    f"{len(subjects)} received, subjects: {subjects!r}"
                )
        return found[0]

    def count(self, predicate: Callable[[EmailMessage], bool]) -> int:
        """How many kept messages match, e.g. to prove an email was not sent twice."""
        with self._condition:
            return sum(1 for message in self._messages if predicate(message))

    async def answer_data(self, server: Any, envelope: Any) -> str:
        """The answer to a message's DATA: it is kept. (A sink that answers otherwise, slowly
        or with a refusal, is a subclass; the tests have one.)"""
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        self._accept(raw, list(envelope.rcpt_tos))
        return "250 OK: kept by teamkeys mail sink"

    def _connection_opened(self) -> None:
        """Record one more client session."""
        with self._condition:
            self._connections += 1

    def _quit_said(self) -> None:
        """Record one more client that said QUIT."""
        with self._condition:
            self._quits += 1

    def _accept(self, raw: bytes, recipients: list[str]) -> None:
        """Keep one message, save it if asked, and wake anyone waiting for it."""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._condition:
            self._saved += 1
            number = self._saved
        if self.directory is not None:
            subject = str(message.get("Subject", ""))
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            path = self.directory / f"{stamp}-{number}-{_slug(subject)}.eml"
            # Written aside and renamed into place: whoever watches the folder (a mail
            # program, a script) never opens a half-written message.
            partial = path.with_suffix(".partial")
            partial.write_bytes(raw)
            partial.replace(path)
            log.info('email to %s "%s" saved as %s', ", ".join(recipients), subject, path)
        with self._condition:
            self._messages.append(message)
            self._condition.notify_all()
