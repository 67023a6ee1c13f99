"""The database: engine, sessions and the unit of work that commits once and then hands the
jobs it wrote to the broker."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from domain.jobs import set_dispatch_lease, set_request_id, take_jobs_to_dispatch
from infra.logs import request_id

#: Called with (id, name) of the jobs a transaction wrote, right after it committed.
JobDispatch = Callable[[Sequence[tuple[str, str]]], None]


_HOLDS_WRITER = "teamkeys.holds_writer_lock"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; on SQLite every transaction takes the write lock up front (``BEGIN
    IMMEDIATE``), which makes transactions serializable, as the owner invariant needs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy issue BEGIN itself
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL never corrupts the database and survives an application crash;
            # only a power cut can lose the last commits. The embedded mode's trade, not
            # production's (PostgreSQL).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # Threads of this process queue for the write lock on a Python lock, which wakes the
        # next one at once, instead of in SQLite's busy handler, which sleeps and polls (up
        # to 100 ms a try) and made tail latency under concurrency hundreds of milliseconds.
        # Other processes on the same file still wait in the busy handler.
        writer = threading.Lock()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            if not writer.acquire(timeout=30):
                raise TimeoutError("the SQLite database stayed locked for 30 s")
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writer.release()
                raise
            connection.info[_HOLDS_WRITER] = True

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _on_end(connection: Any) -> None:
            if connection.info.pop(_HOLDS_WRITER, False):
                writer.release()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """Owns the engine and makes units of work; one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        #: Who takes the jobs a unit of work wrote, right after its commit (None: the relay's
        #: next pass), and how long they are presumed on their way.
        self.dispatch: JobDispatch | None = None
        self.dispatch_lease: timedelta | None = None

    def dispatch_through(self, dispatch: JobDispatch, lease: timedelta) -> None:
        """Hand every unit of work's jobs to ``dispatch`` right after it commits; the relay
        leaves them alone for ``lease``."""
        self.dispatch, self.dispatch_lease = dispatch, lease

    def unit_of_work(self) -> UnitOfWork:
        session = self.sessions()
        set_dispatch_lease(session, self.dispatch_lease)
        # The request being served, or the one behind the job being run: the jobs this unit of
        # work writes carry its id into their log lines.
        set_request_id(session, request_id.get())
        return UnitOfWork(session, self.dispatch)

    def schema_revisions(self) -> frozenset[str] | None:
        """The Alembic revisions the schema is at (none: never migrated), or None when the
        database does not answer right now (the readiness probe)."""
        try:
            with self.engine.connect() as connection:
                if not inspect(connection).has_table("alembic_version"):
                    return frozenset()
                return frozenset(
                    connection.scalars(text("SELECT version_num FROM alembic_version"))
                )
        except Exception:
            return None

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One transaction. It rolls back unless :meth:`commit` is called, so nothing is saved by
    accident; after a commit, the jobs written in it go to the broker at once."""

    def __init__(self, session: Session, dispatch: JobDispatch | None) -> None:
        self.session = session
        self._dispatch = dispatch

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *_exc_info: object) -> None:
        # close() rolls back whatever was not committed, and leaves loaded objects readable.
        take_jobs_to_dispatch(self.session)  # a rollback's jobs never existed
        self.session.close()

    def commit(self) -> None:
        self.session.commit()
        jobs = take_jobs_to_dispatch(self.session)
        if jobs and self._dispatch is not None:
            self._dispatch(jobs)
