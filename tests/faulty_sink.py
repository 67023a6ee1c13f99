"""The local mail sink, with the faults a test can switch on: a server that refuses mail, or
sits on it mid-send."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from infra.mailsink import MailSink


class FaultySink(MailSink):
    """A :class:`MailSink` whose answer to DATA a test can make slow or a refusal."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, directory: Path | None = None
    ) -> None:
        super().__init__(host, port, directory)
        #: When set, DATA is answered with this (code, text) and nothing is kept.
        self.refuse_with: tuple[int, str] | None = None
        #: With ``refuse_with``: refuse only mail to these addresses (``None``: all mail).
        self.refuse_only: set[str] | None = None
        #: Seconds to wait before answering DATA, to hold a client mid-send.
        self.data_delay: float = 0.0
        #: While set, DATA is not answered at all: every client that gets there waits (and
        #: counts in ``held``) until it is cleared.
        self.paused = False
        self._held = 0
        self._held_most = 0
        self._gone = 0
        self._held_lock = threading.Lock()

    @property
    def held(self) -> int:
        """How many clients are waiting mid-DATA right now (see ``data_delay``)."""
        with self._held_lock:
            return self._held

    @property
    def held_most(self) -> int:
        """The most clients ever waiting mid-DATA at once: how many sent in parallel."""
        with self._held_lock:
            return self._held_most

    @property
    def gone(self) -> int:
        """How many clients went away while held mid-DATA (their message is not kept)."""
        with self._held_lock:
            return self._gone

    def _hold(self, change: int) -> None:
        with self._held_lock:
            self._held += change
            self._held_most = max(self._held_most, self._held)

    async def answer_data(self, server: Any, envelope: Any) -> str:
        """Wait ``data_delay``, then refuse as ``refuse_with`` says, or keep the message."""
        if self.data_delay > 0 or self.paused:
            self._hold(+1)
            try:
                await asyncio.sleep(self.data_delay)
                while self.paused:
                    await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                # The client closed its end: aiosmtpd cancels the session's handler.
                with self._held_lock:
                    self._gone += 1
                raise
            finally:
                self._hold(-1)
            if server.transport is None or server.transport.is_closing():
                # The client went away before our answer: it never heard "250", so as far as
                # it knows the message was not taken, and it will send it again.
                return "421 client gone"
        refusal, only = self.refuse_with, self.refuse_only
        if refusal is not None and (only is None or set(envelope.rcpt_tos) & only):
            code, text = refusal
            return f"{code} {text}"
        return await super().answer_data(server, envelope)
