"""Last-used times (of API keys, of sessions), coalesced: each use only notes the time in
memory, and a flush writes one UPDATE per row that was used, every few seconds, instead of one
write per request."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import bindparam, or_, update

from domain.models import ApiKey, AuthSession
from infra.db import Database
from infra.outages import dependency_down, describe

log = logging.getLogger("teamkeys.last_used")


class LastUsedTracker:
    def __init__(
        self, db: Database, interval: float, model: type[ApiKey] | type[AuthSession] = ApiKey
    ) -> None:
        self.db = db
        self.interval = interval
        self.model = model
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def touch(self, row_id: str, when: datetime) -> None:
        with self._lock:
            if when > self._pending.get(row_id, when.min.replace(tzinfo=when.tzinfo)):
                self._pending[row_id] = when
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="last-used-flush", daemon=True
                )
                self._thread.start()

    def flush(self) -> int:
        """Write what was noted since the last flush; a later time never loses to an earlier."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        model = self.model
        statement = (
            update(model)
            .where(
                model.id == bindparam("row_id"),
                or_(model.last_used_at.is_(None), model.last_used_at < bindparam("used")),
            )
            .values(last_used_at=bindparam("used"))
            .execution_options(synchronize_session=False)
        )
        with self.db.unit_of_work() as uow:
            uow.session.connection().execute(
                statement, [{"row_id": k, "used": t} for k, t in pending.items()]
            )
            uow.commit()
        return len(pending)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception as exc:
                if dependency_down(exc) is None:
                    log.exception("could not write last-used times; they are retried next time")
                else:  # an outage: one line, no traceback each time
                    log.warning(
                        "could not write last-used times (%s); they are retried next time",
                        describe(exc),
                    )
