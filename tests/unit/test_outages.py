"""Which failures are a dependency down (503 ``unavailable``) and which are bugs (500), on the
errors the drivers really raise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import exc as sa

from infra.outages import Dependency, dependency_down


def wrapped(error: Exception) -> sa.DBAPIError:
    """``error`` as SQLAlchemy raises it from a statement."""
    driver_error = sqlite3.Error if isinstance(error, sqlite3.Error) else psycopg.Error
    raised = sa.DBAPIError.instance("SELECT 1", {}, error, driver_error)
    assert isinstance(raised, sa.DBAPIError)
    return raised


def sqlite_error(folder: Path, locked: bool) -> sqlite3.Error:
    folder.mkdir()
    holder = sqlite3.connect(folder / "db.sqlite", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    if locked:
        holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(folder / "db.sqlite", timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE" if locked else "SELECT * FROM missing")
    except sqlite3.Error as error:
        return error
    finally:
        other.close()
        holder.close()
    raise AssertionError("no error")


def test_the_database_refusing_or_dropping_connections_is_an_outage() -> None:
    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert dependency_down(wrapped(refused)) is Dependency.DATABASE
    for shutting_down in (psycopg.errors.AdminShutdown(), psycopg.errors.CannotConnectNow()):
        assert dependency_down(wrapped(shutting_down)) is Dependency.DATABASE
    assert dependency_down(wrapped(psycopg.errors.TooManyConnections())) is Dependency.DATABASE
    assert dependency_down(sa.TimeoutError("QueuePool limit reached")) is Dependency.DATABASE


def test_what_the_database_says_about_our_statements_is_a_bug() -> None:
    for ours in (
        psycopg.errors.UndefinedTable(),  # a schema not migrated: /readyz names it
        psycopg.errors.UniqueViolation(),
        psycopg.errors.DeadlockDetected(),  # an OperationalError, but about what we asked
        psycopg.errors.QueryCanceled(),
    ):
        assert dependency_down(wrapped(ours)) is None, type(ours)
    assert dependency_down(RuntimeError("a bug")) is None


def test_a_locked_sqlite_file_is_an_outage_and_a_missing_table_is_not(tmp_path: Path) -> None:
    locked = wrapped(sqlite_error(tmp_path / "a", locked=True))
    assert dependency_down(locked) is Dependency.DATABASE
    assert dependency_down(wrapped(sqlite_error(tmp_path / "b", locked=False))) is None


@pytest.mark.parametrize(
    "error", [redis.exceptions.ConnectionError("refused"), redis.exceptions.TimeoutError("hung")]
)
def test_an_unreachable_broker_is_an_outage_even_when_wrapped(error: Exception) -> None:
    try:
        try:
            raise error
        except Exception as cause:
            raise RuntimeError("could not send") from cause
    except RuntimeError as raised:
        assert dependency_down(raised) is Dependency.BROKER
