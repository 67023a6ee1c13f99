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
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

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


@support.services_only("the usage index is built concurrently on PostgreSQL only")
def test_an_upgrade_stopped_while_the_usage_index_was_built_can_run_again(
    fresh: Backend,
) -> None:
    """A concurrent index build that did not finish leaves an INVALID index behind, and the
    revision undone: the next upgrade builds the index again and goes on."""
    url = fresh.database_url
    upgrade(url, "0009")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO teams (id, name, production_status, created_at) "
                "VALUES ('team_a', 'A', 'none', now())"
            )
        )
        for request_id in ("r0", "r1"):
            conn.execute(
                text(
                    "INSERT INTO usage_records (team_id, request_id, api_key_id, key_kind, "
                    "model, input_tokens, output_tokens, occurred_at, occurred_on, recorded_at) "
                    "VALUES ('team_a', :request_id, 'key', 'trial', 'm', 1, 1, now(), "
                    "current_date, now())"
                ),
                {"request_id": request_id},
            )
        # A build that fails half-way (two rows, one team: not unique) leaves it INVALID.
        with pytest.raises(IntegrityError):
            conn.execute(
                text(
                    "CREATE UNIQUE INDEX CONCURRENTLY ix_usage_team_recorded "
                    "ON usage_records (team_id)"
                )
            )
    upgrade(url)
    with engine.connect() as conn:
        valid = conn.scalar(
            text(
                "SELECT indisvalid FROM pg_index "
                "WHERE indexrelid = to_regclass('ix_usage_team_recorded')"
            )
        )
    engine.dispose()
    assert valid is True
    assert "invoice_runs" in tables(url)
    assert schema_differences(url) == []
