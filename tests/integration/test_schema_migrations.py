"""Schema migrations that move data: run on a database of their own, at the revision before,
with rows in it, up and back down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from infra.migrate import alembic_config, upgrade
from tests.support import Backend, make_backend

LINES = [
    ("invc_1", "teamkeys-large", 2, 1_500_000, 100_000, 600),
    ("invc_1", "mystery-model", 1, 10_000, 0, 1),
    ("invc_2", "teamkeys-small", 7, 10**15, 3, 15_000_000_000),
]


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Backend]:
    with make_backend(tmp_path) as made:
        yield made


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = list(conn.execute(text(sql)))
    engine.dispose()
    return found


def test_invoice_lines_move_into_their_invoice_and_back(fresh: Backend) -> None:
    url = fresh.database_url
    upgrade(url, "0006")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO teams (id, name, production_status, created_at) "
                "VALUES ('team_1', 'One', 'approved', '2026-10-01')"
            )
        )
        for invoice_id, total in (("invc_1", 601), ("invc_2", 15_000_000_000), ("invc_3", 0)):
            conn.execute(
                text(
                    "INSERT INTO invoices (id, team_id, period, status, currency, total_cents, "
                    "issued_at) VALUES (:id, 'team_1', :period, 'issued', 'USD', :total, "
                    "'2026-11-01')"
                ),
                {"id": invoice_id, "period": f"2026-0{invoice_id[-1]}", "total": total},
            )
        for line in LINES:
            conn.execute(
                text(
                    "INSERT INTO invoice_lines (invoice_id, model, calls, input_tokens, "
                    "output_tokens, amount_cents) VALUES (:i, :m, :c, :it, :ot, :a)"
                ),
                dict(zip(("i", "m", "c", "it", "ot", "a"), line, strict=True)),
            )
    engine.dispose()

    upgrade(url, "0007")
    from domain.models import Invoice, InvoiceLine  # the model as of 0007
    from infra.db import Database, make_engine

    db = Database(make_engine(url))
    with db.unit_of_work() as uow:
        moved = {i.id: i.line_items for i in uow.session.query(Invoice)}
    db.dispose()
    assert moved == {
        "invc_1": [InvoiceLine(*line[1:]) for line in sorted(LINES[:2], key=lambda x: x[1])],
        "invc_2": [InvoiceLine(*LINES[2][1:])],
        "invc_3": [],
    }

    command.downgrade(alembic_config(url), "0006")
    assert sorted(
        tuple(row)
        for row in rows(
            url,
            "SELECT invoice_id, model, calls, input_tokens, output_tokens, amount_cents "
            "FROM invoice_lines",
        )
    ) == sorted(LINES)


def test_the_migrations_build_exactly_the_schema_the_models_describe(fresh: Backend) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from domain.models import Base

    upgrade(fresh.database_url)
    engine = create_engine(fresh.database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []


def test_accounts_that_predate_verification_are_verified_and_emails_stay_one_per_person(
    fresh: Backend,
) -> None:
    url = fresh.database_url
    upgrade(url, "0007")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (id, email, name, password_hash, is_support, created_at) "
                "VALUES ('acc_1', 'ada@example.com', 'Ada', 'h', false, '2026-10-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO teams (id, name, production_status, created_at) "
                "VALUES ('team_1', 'Ada''s Team', 'none', '2026-10-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO memberships (account_id, team_id, role, joined_at) "
                "VALUES ('acc_1', 'team_1', 'owner', '2026-10-01')"
            )
        )
    engine.dispose()

    upgrade(url, "0008")
    [(verified,)] = rows(url, "SELECT email_verified_at FROM accounts WHERE id = 'acc_1'")
    assert verified is not None
    assert rows(url, "SELECT team_id FROM memberships") == [("team_1",)]  # the rebuild kept it
    engine = create_engine(url)
    with engine.begin() as conn:  # another unverified holder of the address may sign up...
        conn.execute(
            text(
                "INSERT INTO accounts (id, email, name, password_hash, is_support, created_at) "
                "VALUES ('acc_2', 'ada@example.com', 'Eve', 'h', false, '2026-11-01')"
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:  # ...but not prove it
        conn.execute(
            text("UPDATE accounts SET email_verified_at = '2026-11-02' WHERE id = 'acc_2'")
        )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM accounts WHERE id = 'acc_2'"))
    engine.dispose()

    command.downgrade(alembic_config(url), "0007")
    assert rows(url, "SELECT id, email FROM accounts") == [("acc_1", "ada@example.com")]
