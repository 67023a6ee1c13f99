"""Applying Alembic migrations from code, so ``teamkeys db upgrade`` and ``teamkeys dev`` need
no alembic.ini next to them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

import migrations

#: The PostgreSQL advisory lock every ``teamkeys db upgrade`` holds while it migrates (any
#: fixed 64-bit number; this one is "teamkeys" in ASCII).
MIGRATION_LOCK = 0x7465616D6B657973
#: How often a waiting upgrade asks for the lock again.
LOCK_RETRY_SECONDS = 0.25


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url``; safe when several processes do it at once (each
    deployment's web processes may all start with it): one migrates while the others wait,
    then find nothing left to do."""
    with _one_at_a_time(url):
        command.upgrade(alembic_config(url), revision)


@contextmanager
def _one_at_a_time(url: str) -> Iterator[None]:
    """On PostgreSQL, a session-level advisory lock held on a connection of its own for the
    whole upgrade (two at once both created the first migration's types, and one failed with a
    unique violation). SQLite needs none: every migration transaction begins with ``BEGIN
    IMMEDIATE`` (``infra.db``), so a second process waits for the file's write lock (30 s),
    then reads the version the first one left."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # Asked for again and again rather than waited for in one statement: a statement
            # blocked on the lock holds a snapshot, which a migration's CREATE INDEX
            # CONCURRENTLY in the holder waits for, while it waits for the holder: a deadlock
            # PostgreSQL cannot see (the holder's lock is on a connection of its own).
            take = text("SELECT pg_try_advisory_lock(:key)")
            while not connection.execute(take, {"key": MIGRATION_LOCK}).scalar_one():
                time.sleep(LOCK_RETRY_SECONDS)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()
