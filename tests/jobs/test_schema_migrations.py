"""The schema migrations, each run on a database of its own: they build exactly what the models
describe, and go down and up again cleanly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from domain.models import Base
from migrations import heads
from teamkeys.migrate import alembic_config, upgrade
from tests import support
from tests.faults import ROOT, settings_env
from tests.support import Backend, make_backend


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Backend]:
    with make_backend(tmp_path) as made:
        yield made


def schema_differences(url: str) -> list[object]:
    engine = create_engine(url)
    with engine.connect() as conn:
        differences: list[object] = compare_metadata(
            MigrationContext.configure(conn), Base.metadata
        )
    engine.dispose()
    return differences


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    found = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    return found


def test_the_migrations_build_exactly_the_schema_the_models_describe(fresh: Backend) -> None:
    upgrade(fresh.database_url)
    assert schema_differences(fresh.database_url) == []


def test_the_migrations_go_down_to_nothing_and_up_again(fresh: Backend) -> None:
    url = fresh.database_url
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    assert tables(url) == set()
    upgrade(url)
    assert tables(url) == {table.name for table in Base.metadata.sorted_tables}
    assert schema_differences(url) == []


def test_two_upgrades_at_once_on_a_fresh_database_both_succeed(
    fresh: Backend, tmp_path: Path
) -> None:
    """As when every web process of a deployment starts with ``teamkeys db upgrade``: one
    migrates while the other waits, then finds nothing to do (on PostgreSQL both created the
    first migration's types before, and one failed)."""
    env = settings_env(support.test_settings(fresh, tmp_path))
    both = [
        subprocess.Popen(
            [sys.executable, "-m", "teamkeys.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in both]

    assert [process.returncode for process in both] == [0, 0], outputs
    engine = create_engine(fresh.database_url)
    with engine.connect() as conn:
        assert set(MigrationContext.configure(conn).get_current_heads()) == heads()
    engine.dispose()
    assert schema_differences(fresh.database_url) == []
