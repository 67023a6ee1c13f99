"""Alembic environment: the URL comes from the caller (``teamkeys db upgrade``) or settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from domain.models import Base
from infra.db import make_engine
from infra.settings import get_settings

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_on_sqlite(connection: Connection) -> None:
    """SQLite changes a table by copying it into a new one (Alembic's batch mode), which
    foreign keys pointing at it forbid: they are switched off for the migration, as SQLite's
    own procedure says, and every row is checked against them before they return."""
    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")  # outside any transaction, or SQLite ignores it
    try:
        run(connection)
        broken = driver.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            run_on_sqlite(conn)
        else:
            run(conn)
    engine.dispose()
