"""invoice lines stored in the invoice

An issued invoice never changes and is always read whole, so its lines move into the invoice
row (a JSON array, one object per model, sorted by model). Issuing a month's invoices then
writes one row per team instead of one plus one per model, each with its foreign-key check.
The index on invoices.team_id goes too: the unique (team_id, period) index serves it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 04:30:00
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FIELDS = ("model", "calls", "input_tokens", "output_tokens", "amount_cents")

invoices = sa.table("invoices", sa.column("id", sa.String), sa.column("lines", sa.JSON))
invoice_lines = sa.table(
    "invoice_lines",
    sa.column("invoice_id", sa.String),
    *(sa.column(name, sa.String if name == "model" else sa.BigInteger) for name in FIELDS),
)


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("lines", sa.JSON(), nullable=True))
    bind = op.get_bind()
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in bind.execute(
        sa.select(invoice_lines).order_by(invoice_lines.c.invoice_id, invoice_lines.c.model)
    ).mappings():
        lines[row["invoice_id"]].append({name: row[name] for name in FIELDS})
    for invoice_id in bind.execute(sa.select(invoices.c.id)).scalars():
        bind.execute(
            invoices.update()
            .where(invoices.c.id == invoice_id)
            .values(lines=lines.get(invoice_id, []))
        )
    with op.batch_alter_table("invoice_lines") as batch_op:
        batch_op.drop_index("ix_invoice_lines_invoice_id")
    op.drop_table("invoice_lines")
    # Last: on SQLite this copies the table, which nothing may reference by then.
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.alter_column("lines", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_index("ix_invoices_team_id")


def downgrade() -> None:
    bind = op.get_bind()
    rows = [
        {"invoice_id": invoice_id, **{name: line[name] for name in FIELDS}}
        for invoice_id, lines in bind.execute(sa.select(invoices.c.id, invoices.c.lines))
        for line in lines
    ]
    # First: on SQLite this copies the table, which nothing may reference yet.
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.create_index("ix_invoices_team_id", ["team_id"], unique=False)
        batch_op.drop_column("lines")
    op.create_table(
        "invoice_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines") as batch_op:
        batch_op.create_index("ix_invoice_lines_invoice_id", ["invoice_id"], unique=False)
    if rows:
        bind.execute(invoice_lines.insert(), rows)
