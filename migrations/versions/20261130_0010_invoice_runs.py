"""Invoice runs, and usage found by when it was recorded (an invoice bills what was recorded in
its month, late usage included).

No release billed by the day of use before this revision (the schema was folded into 0008
before the first release), so no issued invoice holds usage the new rule bills again.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import domain.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Built without locking out the gateway's usage calls, however many rows there are,
        # and first: the block commits what came before it, so an upgrade stopped during the
        # build leaves this revision undone and nothing of it but the index, which the next
        # upgrade keeps if the build finished and builds again if it did not (an INVALID one).
        with op.get_context().autocommit_block():
            leftover = op.get_bind().scalar(
                sa.text(
                    "SELECT NOT indisvalid FROM pg_index "
                    "WHERE indexrelid = to_regclass('ix_usage_team_recorded')"
                )
            )
            if leftover:
                op.execute("DROP INDEX CONCURRENTLY ix_usage_team_recorded")
            op.create_index(
                "ix_usage_team_recorded",
                "usage_records",
                ["team_id", "recorded_at"],
                unique=False,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    else:
        with op.batch_alter_table("usage_records", schema=None) as batch_op:
            batch_op.create_index("ix_usage_team_recorded", ["team_id", "recorded_at"])
    op.create_table(
        "invoice_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("teams", sa.Integer(), nullable=False),
        sa.Column("teams_done", sa.Integer(), nullable=False),
        sa.Column("teams_failed", sa.Integer(), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("started_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_runs")),
    )
    with op.batch_alter_table("invoice_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_runs_period"), ["period"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_team_recorded")
    with op.batch_alter_table("invoice_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_runs_period"))
    op.drop_table("invoice_runs")
