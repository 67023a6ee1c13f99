"""Alembic environment: the URL comes from the caller (``teamkeys db upgrade``) or settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from domain.models import Base
from teamkeys.db import make_engine
from teamkeys.settings import get_settings

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


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
