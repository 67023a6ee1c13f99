"""Telling an outage from a bug: which exceptions mean a dependency is down right now (the API
answers 503 ``unavailable`` with ``Retry-After`` and logs one line), and which are faults of
ours (500 ``internal_error`` with a traceback).

A dependency is down when the client could not reach it or lost it mid-conversation, or the
server says it cannot serve at the moment. An error the server gives about what we asked
(a constraint, a missing table, a deadlock, a syntax error) is ours, whatever its class: a
schema that is not migrated is a deployment fault that ``/readyz`` names, not an outage."""

from __future__ import annotations

import enum
import sqlite3

import dramatiq.errors
import redis.exceptions
from sqlalchemy import exc as sa

#: PostgreSQL SQLSTATEs (besides class 08, connection exceptions) of a server that cannot serve
#: right now: shutting down, crashed, starting up, out of connection slots.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
#: SQLite's result codes of a database another connection holds (``database is locked``).
SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class Dependency(enum.StrEnum):
    DATABASE = "database"
    BROKER = "broker"


def dependency_down(exc: BaseException) -> Dependency | None:
    """The dependency whose outage ``exc`` (or an exception it was raised from) reports, or
    None when it is not an outage."""
    seen: BaseException | None = exc
    while seen is not None:
        found = _down(seen)
        if found is not None:
            return found
        seen = seen.__cause__
    return None


#: What the broker's clients raise when they cannot reach it: Redis's, and Dramatiq's own
#: (its RabbitMQ broker wraps pika's errors in them).
BROKER_UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    dramatiq.errors.BrokerConnectionError,
)


def _down(exc: BaseException) -> Dependency | None:
    if isinstance(exc, sa.TimeoutError):  # no pooled connection came free in time
        return Dependency.DATABASE
    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated or _unreachable(exc):
            return Dependency.DATABASE
        return None
    if isinstance(exc, BROKER_UNREACHABLE):
        return Dependency.BROKER
    return None


def _unreachable(exc: sa.DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return getattr(orig, "sqlite_errorcode", 0) & 0xFF in SQLITE_BUSY_CODES
    if not isinstance(exc, sa.OperationalError | sa.InterfaceError):
        return False
    # psycopg: no SQLSTATE means the client failed (refused, timed out, connection lost) before
    # the server could say anything.
    sqlstate = getattr(orig, "sqlstate", "")
    return sqlstate is None or sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES


def describe(exc: BaseException) -> str:
    """``exc`` in one short line for the log: its class and what the driver said (on one line,
    cut at 200 characters), without SQLAlchemy's statement and background link."""
    inner = exc.orig if isinstance(exc, sa.DBAPIError) and exc.orig is not None else exc
    text = " ".join(str(inner).split())
    return f"{type(inner).__name__}: {text[:200]}" if text else type(inner).__name__
